/**
 * Stand-in for the `better-sqlite3` module inside the SEA bundle only (scripts/build-sea.mjs
 * aliases the package name to this file; its own import below resolves to the real package).
 * It injects the addon registered in native.ts as `nativeBinding`, so code written against
 * plain better-sqlite3 works unchanged in the single executable.
 */
import Real from 'better-sqlite3';
import { nativeBinding } from '../native.js';

type Ctor = typeof Real;

function Database(filename?: string | Buffer, options?: Real.Options): Real.Database {
  const addon = nativeBinding();
  // @types/better-sqlite3 types nativeBinding as a path; the library also takes the addon object.
  const opts = addon && options?.nativeBinding === undefined ? { ...options, nativeBinding: addon as unknown as string } : options;
  return new Real(filename, opts);
}
// Statics (SqliteError) and instanceof keep working: same prototype chain as the real class.
Object.setPrototypeOf(Database, Real);
Database.prototype = Real.prototype;

export default Database as unknown as Ctor;
