import pino, { type Logger } from 'pino';

/** Root logger: JSON lines, credentials redacted wherever they appear in a logged object. */
export function createLogger(level = process.env.CHAINWATCH_LOG_LEVEL ?? 'info', dest: number = 1): Logger {
  return pino({
    level,
    base: { app: 'chainwatch-collector' },
    redact: {
      paths: ['token', '*.token', 'enroll_secret', '*.enroll_secret', 'secret', '*.secret', 'req.headers.authorization', 'req.headers.cookie', 'key', '*.key'],
      censor: '[redacted]',
    },
  }, pino.destination(dest));
}
