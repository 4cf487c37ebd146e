/**
 * Wire-visible error codes, shared by agent and collector. Each code is documented once, in
 * docs/errors.md (a test keeps the two in step). Retired codes are never reused.
 */
export const WireErrors = {
  CW_PROTO_BAD_JSON: 'frame is not valid JSON (or not UTF-8)',
  CW_PROTO_BAD_FRAME: 'frame does not match the shared schema',
  CW_PROTO_UNKNOWN_TYPE: 'frame type is not one this endpoint accepts',
  CW_PROTO_UNSUPPORTED_VERSION: 'protocol version is not supported',
  CW_PROTO_TOO_LARGE: 'frame exceeds the size limit',
  CW_PROTO_TOO_DEEP: 'JSON nesting exceeds the depth limit',
  CW_PROTO_BAD_SEQ: 'sequence number is not valid for this agent',
  CW_PROTO_RATE: 'too many frames in too short a time',
  CW_PROTO_BAD_DEFLATE: 'compressed frame is not valid permessage-deflate data',
  CW_AUTH_MISSING: 'no credentials were presented',
  CW_AUTH_BAD_TOKEN: 'token is unknown, revoked or does not belong to this host',
  CW_AUTH_FORBIDDEN: 'the token\'s role may not do this',
  CW_AUTH_DUPLICATE_SESSION: 'this agent identity is already connected',
  CW_ENROLL_BAD_SECRET: 'enroll secret is unknown, revoked, expired or used up',
  CW_HOST_REVOKED: 'host has been revoked',
  CW_HOST_FLAGGED: 'host identity is used from more than one machine (possible clone); refused',
  CW_AUTH_CLIENT_CERT: 'mutual TLS is on and no valid client certificate for this host was presented',
  CW_RATE_LIMITED: 'too many requests or failed authentications from this address; retry later',
  CW_STORE_FAILED: 'the collector could not commit the batch; resend it',
  CW_BAD_REQUEST: 'request does not match the route schema',
  CW_NOT_FOUND: 'no such resource',
  CW_INDICATOR_INVALID: 'indicator rejected',
} as const;

export type WireErrorCode = keyof typeof WireErrors;
