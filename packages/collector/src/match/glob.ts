/**
 * File-name glob indicators (`*.dll`, `3cx*.msi`, `3CXDesktopApp/ffmpeg.dll` paths) indexed so a file costs
 * a few map probes, however many globs there are — the one indicator type that has no exact
 * lookup key.
 *
 * Why this shape: most real globs have a literal tail (an extension) or a literal head
 * (a product prefix). A glob goes into the bucket of its first HEAD characters when its head is
 * literal (more selective), else of its last TAIL characters when its tail is literal; a name probes its own
 * tail/head of each length up to that size (3 + 3 probes). Globs literal at neither end, and
 * path globs (they contain a `/`), go to a residual list that is screened with ONE combined
 * RegExp first, so the per-glob tests run only when something in the residual matches at all.
 *
 * Pure: no I/O.
 */
export interface GlobEntry { pattern: string; re: RegExp }

const AFFIX = 3;
const WILD = /[*?[]/;

/** Shell-style glob (`*`, `?`, `[…]`) to an anchored, case-insensitive RegExp source. */
export function globSource(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const j = glob.indexOf(']', i + 1);
      if (j < 0) re += '\\[';
      else { re += `[${glob.slice(i + 1, j).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`; i = j; }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return `^${re}$`;
}

export const globToRegExp = (glob: string): RegExp => new RegExp(globSource(glob), 'i');

/** A glob names a path (matched against the full path) when it contains a separator. */
export const isPathGlob = (glob: string): boolean => glob.includes('/') || glob.includes('\\');

function literalTail(p: string): string | null {
  const tail = p.slice(-AFFIX);
  return tail.length === AFFIX && !WILD.test(tail) && !tail.includes(']') ? tail.toLowerCase() : null;
}
function literalHead(p: string): string | null {
  const head = p.slice(0, AFFIX);
  return head.length === AFFIX && !WILD.test(head) ? head.toLowerCase() : null;
}

export class GlobIndex<T extends GlobEntry> {
  private readonly tails = new Map<string, T[]>();
  private readonly heads = new Map<string, T[]>();
  private residual: T[] = [];
  private screen: RegExp | null = null;
  private count = 0;

  get size(): number { return this.count; }

  add(e: T): void {
    this.count++;
    // Head first: product prefixes are more selective than extensions, which many globs share.
    const head = isPathGlob(e.pattern) ? null : literalHead(e.pattern);
    const tail = head || isPathGlob(e.pattern) ? null : literalTail(e.pattern);
    if (head) push(this.heads, head, e);
    else if (tail) push(this.tails, tail, e);
    else { this.residual.push(e); this.screen = null; }
  }

  remove(pred: (e: T) => boolean): void {
    for (const m of [this.tails, this.heads]) {
      for (const [k, list] of m) {
        const kept = list.filter((e) => !pred(e));
        this.count -= list.length - kept.length;
        if (kept.length) m.set(k, kept); else m.delete(k);
      }
    }
    const kept = this.residual.filter((e) => !pred(e));
    this.count -= this.residual.length - kept.length;
    this.residual = kept;
    this.screen = null;
  }

  /** Entries whose glob matches `path` (path globs) or its base name `name`. */
  match(name: string, path: string, out: T[] = []): T[] {
    if (this.count === 0) return out;
    const lower = name.toLowerCase();
    const t = this.tails.get(lower.slice(-AFFIX));
    if (t) for (const e of t) if (e.re.test(name)) out.push(e);
    const h = this.heads.get(lower.slice(0, AFFIX));
    if (h) for (const e of h) if (e.re.test(name)) out.push(e);
    if (this.residual.length) this.matchResidual(name, path, out);
    return out;
  }

  private matchResidual(name: string, path: string, out: T[]): void {
    // One combined alternation screens names and paths (joined by a NUL that no glob matches).
    this.screen ??= new RegExp(this.residual.map((e) => `(?:${e.re.source.replace(/^\^/, '(?:^|\\0)').replace(/\$$/, '(?:$|\\0)')})`).join('|'), 'i');
    if (!this.screen.test(`${name}\0${path}`)) return;
    for (const e of this.residual) if (e.re.test(isPathGlob(e.pattern) ? path : name)) out.push(e);
  }
}

function push<T>(m: Map<string, T[]>, k: string, v: T): void {
  const l = m.get(k);
  if (l) l.push(v); else m.set(k, [v]);
}
