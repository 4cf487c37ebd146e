import Type from 'typebox';

/** Bounded strings: every string on the wire is bounded, so one hostile value cannot bloat a batch. */
export const Str = (max = 1024) => Type.String({ maxLength: max });
export const PathStr = Type.String({ minLength: 1, maxLength: 4096 });
export const Hex = (len: number) => Type.String({ pattern: `^[0-9a-f]{${len}}$` });
export const Sha256 = Hex(64);
export const Sha1 = Hex(40);
export const Md5 = Hex(32);
/** ISO-8601 timestamp (UTC). */
export const Time = Type.String({ maxLength: 40 });
/**
 * Stable identity of an item on its host ("which slot"): the collector diffs successive
 * inventories by this key. A version change keeps the key and changes the content.
 */
export const ItemKey = Type.String({ minLength: 1, maxLength: 4352 });
