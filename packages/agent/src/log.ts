import pino, { type Logger } from 'pino';

/**
 * The process's one root logger. It writes to stderr, because stdout carries `scan --json`
 * NDJSON. Credentials are redacted wherever they appear.
 */
export function createLogger(level = process.env.CHAINWATCH_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { app: 'chainwatch-agent' },
    redact: { paths: ['token', '*.token', 'enroll_secret', '*.enroll_secret', 'headers.authorization', '*.headers.authorization', 'ca_pem', 'client_key', '*.client_key', 'key', '*.key'], censor: '[redacted]' },
  }, pino.destination(2));
}
