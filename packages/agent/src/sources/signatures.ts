/**
 * Signatures: the code-signing verdict of every signable file the files source found
 * (PE executables/DLLs/drivers/EFI binaries, MSI packages, Mach-O binaries), with signer,
 * serial, thumbprints, validity, timestamp and the reason in words.
 *
 * Windows system files mostly carry no embedded signature but are listed in signed catalogs
 * (`Windows/System32/CatRoot/{GUID}/*.cat`); those catalogs are indexed first, so such a file is
 * reported as signed by the catalog's signer, never as unsigned.
 * Trust anchors: the scanning host's CA bundle plus `--trust` files (ScanOptions.trustFiles).
 * Reads files only; needs read access to them.
 */
import type { ScanContext, Source } from './types.js';
import { safeReaddir, safeReadFile } from './fs-safe.js';
import { errorItem, errorItemFrom } from './util.js';
import type { TrustStore } from '../signing/trust.js';
import type { CatalogIndex } from '../signing/catalog.js';

const ID = 'signatures';
const MAX_CATALOG_BYTES = 64 * 1024 * 1024;
const MAX_CATALOGS = 20_000;

/** Case-insensitive child lookup: offline Windows volumes keep Windows' casing. */
async function childCi(ctx: ScanContext, dir: string, name: string): Promise<string | null> {
  const want = name.toLowerCase();
  for (const e of await safeReaddir(ctx, dir)) if (e.isDirectory && e.name.toLowerCase() === want) return e.systemPath;
  return null;
}

async function catalogFiles(ctx: ScanContext): Promise<string[]> {
  let dir: string | null = '/';
  for (const part of ['Windows', 'System32', 'CatRoot']) {
    dir = await childCi(ctx, dir, part);
    if (!dir) return [];
  }
  const out: string[] = [];
  for (const guid of await safeReaddir(ctx, dir)) {
    if (!guid.isDirectory) continue;
    for (const f of await safeReaddir(ctx, guid.systemPath)) {
      if (f.isFile && f.name.toLowerCase().endsWith('.cat') && out.length < MAX_CATALOGS) out.push(f.systemPath);
    }
  }
  return out;
}

/**
 * Index the catalogs one at a time as they are read: a Windows volume holds thousands of them
 * (hundreds of MB together), and only their member digests (compactly, catalog-index.ts) and
 * signer verdicts are kept.
 */
async function loadCatalogs(ctx: ScanContext, store: TrustStore): Promise<{ index?: CatalogIndex; errors: ReturnType<typeof errorItem>[] }> {
  const errors: ReturnType<typeof errorItem>[] = [];
  const paths = await catalogFiles(ctx);
  if (paths.length === 0) return { errors };
  const { addCatalog, CatalogIndex } = await import('../signing/catalog.js');
  const index = new CatalogIndex();
  const judge = { store, now: new Date() };
  for (const p of paths) {
    if (ctx.signal.aborted) break;
    const der = await safeReadFile(ctx, p, MAX_CATALOG_BYTES).catch(() => null);
    const err = der ? addCatalog(index, der, p, judge) : null;
    if (err) errors.push(errorItem(ID, err.code, err.message));
  }
  return { index, errors };
}

export const signatures: Source = {
  id: ID,
  description: 'code-signing verdicts of PE, MSI and Mach-O files (embedded signatures and Windows catalogs)',
  phase: 2,
  async *collect(ctx) {
    const candidates = [...ctx.signable.keys()];
    if (candidates.length === 0) return;
    // The verifier and its parsers are imported only when there is something to verify.
    const [{ verifyFile }, { loadTrustStore }] = await Promise.all([import('../signing/verify.js'), import('../signing/trust.js')]);
    const store = loadTrustStore(ctx.options.trustFiles, true);
    const { index, errors } = await loadCatalogs(ctx, store);
    yield* errors;
    for (const systemPath of candidates) {
      if (ctx.signal.aborted) return;
      try {
        const item = await verifyFile(ctx.resolve(systemPath), { store, catalogs: index, maxBytes: ctx.options.maxFileSize });
        // verifyFile names the file by the path it read; report it as it is on the scanned system.
        yield { ...item, path: systemPath, key: `signature:${systemPath}` };
      } catch (err) {
        yield errorItemFrom(ID, err, systemPath, 'CW_FILE_UNREADABLE');
      }
    }
  },
};
