/**
 * The agent's error registry: every failure kind the agent reports has one code here, and each
 * code is documented once in docs/errors.md (a test keeps them in step). Retired codes are
 * never reused. Codes travel in `error` items, so operators can count them fleet-wide.
 */
export const AgentErrors = {
  // --- general / CLI ---
  CW_AGENT_USAGE: 'command line is not valid',
  CW_AGENT_STATE: 'state directory is unreadable or unwritable',
  CW_AGENT_CONFIG: 'agent configuration file is missing, unreadable, unsafe or invalid',
  CW_AGENT_INSTALL: 'installing, removing or querying the agent service failed',
  // --- sources ---
  CW_SOURCE_FAILED: 'an inventory source failed unexpectedly; the scan went on without it',
  CW_SOURCE_TIMEOUT: 'an inventory source ran past its time budget and was cut short',
  CW_SOURCE_UNREADABLE: 'an inventory database or file could not be read',
  CW_SOURCE_CORRUPT: 'an inventory database or file is malformed; readable parts were kept',
  CW_FILE_UNREADABLE: 'a file could not be opened or read for hashing',
  CW_FILE_TOO_LARGE: 'a file is larger than the hashing limit and was not hashed',
  CW_REGF_MALFORMED: 'Windows registry hive (REGF) is malformed',
  CW_PLIST_MALFORMED: 'property list (XML or binary plist) could not be parsed',
  CW_REG_QUERY_FAILED: 'reg.exe query failed or timed out',
  // --- transport ---
  CW_TRANSPORT_CONNECT: 'could not connect to the collector',
  CW_TRANSPORT_TLS_PIN: 'the collector\'s certificate fails verification: not from the pinned CA, or (none pinned) not trusted by the host\'s CA store',
  CW_TRANSPORT_ENROLL: 'enrollment was refused',
  CW_TRANSPORT_REJECTED: 'the collector rejected a frame',
  CW_TRANSPORT_TIMEOUT: 'the collector did not acknowledge in time',
  CW_TRANSPORT_SPOOL: 'the on-disk spool of unacknowledged batches could not be used',
  CW_TRANSPORT_IDENTITY: 'the collector refused this agent identity (revoked, flagged as a clone, or credentials rejected)',
  // --- signing ---
  CW_PE_TRUNCATED: 'PE file ends before a structure its headers declare',
  CW_PE_MALFORMED: 'PE headers are inconsistent',
  CW_PKCS7_MALFORMED: 'signature blob is not a valid PKCS#7 SignedData',
  CW_MACHO_MALFORMED: 'Mach-O headers or code signature are inconsistent',
  CW_MSI_MALFORMED: 'MSI compound file could not be read',
  CW_CERT_MALFORMED: 'certificate or key file could not be parsed',
} as const;
export type AgentErrorCode = keyof typeof AgentErrors;

/** The one error class of the agent: a code from the registry plus detail in words. */
export class AgentError extends Error {
  readonly code: AgentErrorCode;
  constructor(code: AgentErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${AgentErrors[code]}: ${detail}` : AgentErrors[code], options);
    this.code = code;
    this.name = 'AgentError';
  }
}

/** Code of any thrown value: ours as they are, Node's errno codes as unreadable input. */
export function errorCode(err: unknown, fallback: AgentErrorCode = 'CW_SOURCE_FAILED'): AgentErrorCode {
  if (err instanceof AgentError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM' || code === 'EISDIR' || code === 'EIO') return 'CW_FILE_UNREADABLE';
  return fallback;
}
