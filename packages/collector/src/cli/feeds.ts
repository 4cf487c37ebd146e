/**
 * `chainwatch-collector feeds …`: TAXII 2.1 sources stored in the database, polled by the
 * running collector (feeds/taxii.ts). Credentials go into the database only; `feeds list`
 * shows which kind of credential a source has, never the credential.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { openDb } from '../store/db.js';
import { audit } from '../store/auth.js';
import { TaxiiSources, type TaxiiAuth } from '../feeds/taxii.js';
import { usage, intOpt } from './args.js';
import { Errors } from '../errors.js';
import { DEFAULT_DB } from './start.js';

export const FEEDS_USAGE = `chainwatch-collector feeds add-taxii --name N --url URL --collection ID [--token T | --user U --password P]
                                    [--interval SECONDS] [--ca-file PEM] [--db FILE]
chainwatch-collector feeds list|remove-taxii N [--db FILE]
  Secrets stay out of the process list when given as CHAINWATCH_TAXII_TOKEN / CHAINWATCH_TAXII_PASSWORD.`;

const actor = 'cli:' + (process.env.SUDO_USER ?? process.env.USER ?? 'unknown');

function authOf(v: { token?: string | undefined; user?: string | undefined; password?: string | undefined }): TaxiiAuth | null {
  if (v.token !== undefined && (v.user !== undefined || v.password !== undefined)) throw new Errors.CW_CLI_USAGE('give --token or --user/--password, not both');
  if (v.token !== undefined) return { token: v.token };
  if ((v.user === undefined) !== (v.password === undefined)) throw new Errors.CW_CLI_USAGE('--user and --password go together');
  return v.user !== undefined ? { user: v.user, password: v.password! } : null;
}

export async function runFeeds(args: string[], out: Writable): Promise<number> {
  const { values, positionals } = usage(() => parseArgs({ args, strict: true, allowPositionals: true, options: {
    name: { type: 'string' }, url: { type: 'string' }, collection: { type: 'string' }, token: { type: 'string' }, user: { type: 'string' },
    password: { type: 'string' }, interval: { type: 'string' }, 'ca-file': { type: 'string' }, db: { type: 'string' } } }));
  const [sub, name] = positionals;
  // Command-line arguments are visible to every local user in ps: prefer the environment.
  values.token ??= process.env.CHAINWATCH_TAXII_TOKEN;
  if (values.user !== undefined) values.password ??= process.env.CHAINWATCH_TAXII_PASSWORD;
  const db = openDb(values.db ?? process.env.CHAINWATCH_DB ?? DEFAULT_DB);
  const sources = new TaxiiSources(db);
  try {
    if (sub === 'add-taxii') {
      if (!values.name || !values.url || !values.collection) throw new Errors.CW_CLI_USAGE(`add-taxii needs --name, --url and --collection\n${FEEDS_USAGE}`);
      const ca = values['ca-file'];
      if (ca !== undefined && !existsSync(ca)) throw new Errors.CW_CLI_USAGE(`--ca-file ${ca} does not exist`);
      const interval = intOpt(values.interval, 'interval', 3600);
      if (interval < 60) throw new Errors.CW_CLI_USAGE('--interval must be at least 60 seconds');
      try { sources.add({ name: values.name, url: values.url, collection: values.collection, auth: authOf(values), interval_s: interval, ca_file: ca ?? null }); } catch (err) {
        if (err instanceof TypeError) throw new Errors.CW_CLI_USAGE(`--url is not a URL: ${values.url}`);
        throw err;
      }
      audit(db, actor, 'feeds.taxii_add', values.name, { url: values.url, collection: values.collection, interval_s: interval });
      out.write(`TAXII source ${values.name} saved; a running collector polls it within seconds, then every ${interval} s\n`);
    } else if (sub === 'list') {
      for (const s of sources.list()) out.write(JSON.stringify(s) + '\n');
    } else if (sub === 'remove-taxii' && name) {
      if (!sources.remove(name)) throw new Errors.CW_NOT_FOUND(`TAXII source ${name}`);
      audit(db, actor, 'feeds.taxii_remove', name);
      out.write(`removed TAXII source ${name} (its indicators stay in feed ${name})\n`);
    } else throw new Errors.CW_CLI_USAGE(FEEDS_USAGE);
  } finally { db.close(); }
  return 0;
}
