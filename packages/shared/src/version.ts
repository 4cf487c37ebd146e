/** Wire protocol version. Additive changes keep it; removals or renames bump it. */
export const PROTOCOL_VERSION = 1;
