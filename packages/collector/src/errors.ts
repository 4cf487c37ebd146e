/**
 * The collector's error registry (fastify style, via @fastify/error): one constructor per
 * failure kind, each with its HTTP status. Codes are documented once in docs/errors.md.
 * Retired codes are never reused.
 */
import createError from '@fastify/error';

export const Errors = {
  CW_AUTH_MISSING: createError('CW_AUTH_MISSING', 'no credentials: send Authorization: Bearer <token>', 401),
  CW_AUTH_BAD_TOKEN: createError('CW_AUTH_BAD_TOKEN', 'token is unknown or revoked', 401),
  CW_AUTH_FORBIDDEN: createError('CW_AUTH_FORBIDDEN', 'role %s may not %s', 403),
  CW_ENROLL_BAD_SECRET: createError('CW_ENROLL_BAD_SECRET', 'enroll secret is unknown, revoked, expired or used up', 401),
  CW_HOST_REVOKED: createError('CW_HOST_REVOKED', 'host %s has been revoked', 403),
  CW_HOST_CONFLICT: createError('CW_HOST_CONFLICT', 'host id %s is already enrolled with other credentials', 409),
  CW_RATE_LIMITED: createError('CW_RATE_LIMITED', 'too many failed authentications from this address; retry later', 429),
  CW_NOT_FOUND: createError('CW_NOT_FOUND', '%s not found', 404),
  CW_BAD_REQUEST: createError('CW_BAD_REQUEST', '%s', 400),
  CW_BAD_CURSOR: createError('CW_BAD_CURSOR', 'cursor is not valid', 400),
  CW_FEED_INVALID: createError('CW_FEED_INVALID', 'indicator document rejected: %s', 400),
  CW_STORE_FAILED: createError('CW_STORE_FAILED', 'storage failed: %s', 500),
  CW_CLI_USAGE: createError('CW_CLI_USAGE', '%s', 2),
  CW_CONFIG_INVALID: createError('CW_CONFIG_INVALID', 'configuration is not valid: %s', 500),
  CW_PACKAGE_FAILED: createError('CW_PACKAGE_FAILED', 'agent packaging failed: %s', 500),
  CW_BACKUP_FAILED: createError('CW_BACKUP_FAILED', 'backup or restore failed: %s', 500),
  CW_RESTORE_REFUSED: createError('CW_RESTORE_REFUSED', 'restore refused: %s', 409),
  CW_ALERT_TRANSITION: createError('CW_ALERT_TRANSITION', 'alert %s is %s and cannot become %s', 409),
  CW_API_BUSY: createError('CW_API_BUSY', 'API reads are backed up (%s); retry shortly', 503),
  CW_TAXII_FAILED: createError('CW_TAXII_FAILED', 'TAXII poll failed: %s', 502),
} as const;
export type CollectorErrorCode = keyof typeof Errors;
