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
  CW_NOT_FOUND: createError('CW_NOT_FOUND', '%s not found', 404),
  CW_BAD_REQUEST: createError('CW_BAD_REQUEST', '%s', 400),
  CW_BAD_CURSOR: createError('CW_BAD_CURSOR', 'cursor is not valid', 400),
  CW_FEED_INVALID: createError('CW_FEED_INVALID', 'indicator document rejected: %s', 400),
  CW_STORE_FAILED: createError('CW_STORE_FAILED', 'storage failed: %s', 500),
  CW_USAGE: createError('CW_USAGE', '%s', 2),
  CW_CONFIG_INVALID: createError('CW_CONFIG_INVALID', 'configuration is not valid: %s', 500),
} as const;
export type CollectorErrorCode = keyof typeof Errors;
