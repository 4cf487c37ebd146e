/**
 * A PE file on disk as the parser reads it: headers and tables at offsets (bytes.ts), a file
 * cut after it was measured being a truncated PE like any other.
 */
import type { FileHandle } from 'node:fs/promises';
import { AgentError } from '../errors.js';
import { fileBytes, type ByteReader } from './bytes.js';

export { fileChunks } from './bytes.js';

export function peFileBytes(fh: FileHandle, size: number): ByteReader {
  return fileBytes(fh, size, (detail) => new AgentError('CW_PE_TRUNCATED', detail));
}
