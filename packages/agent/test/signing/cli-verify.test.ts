// `chainwatch-agent verify`: output shape (one line per file, --json objects) and exit codes.
import t from 'tap';
import { PassThrough } from 'node:stream';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runVerify } from '../../src/cli/verify.js';
import { peFixtures } from '../helpers/pe-fixtures.js';
import { haveTool } from '../helpers/signed-corpus.js';

const skip = ['osslsigncode', 'x86_64-w64-mingw32-gcc', 'openssl'].some((x) => !haveTool(x)) ? 'fixture tools missing' : false;

async function run(args: string[]): Promise<{ code: number; lines: string[] }> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => { text += d.toString(); });
  const code = await runVerify(args, out);
  return { code, lines: text.trim().split('\n') };
}

t.test('verify --json', { skip }, async (t) => {
  const fx = peFixtures();
  const junk = join(fx.dir, 'junk.bin');
  writeFileSync(junk, 'MZ but nothing else');
  const { code, lines } = await run([fx.signed['dual']!, fx.unsigned, junk, join(fx.dir, 'missing.exe'), '--json', '--trust', fx.ca]);
  t.equal(code, 0, 'exit 0 whatever the verdicts');
  t.equal(lines.length, 4, 'one line per file');
  const [dual, unsigned, bad, missing] = lines.map((l) => JSON.parse(l));
  t.match(dual, { format: 'pe', verdict: 'valid', signatures: [{ digest_algorithm: 'sha1', timestamp: null, signer: { serial: /^[0-9a-f]+$/, sha1: /^[0-9a-f]{40}$/, sha256: /^[0-9a-f]{64}$/, not_before: /Z$/ } }, { digest_algorithm: 'sha256' }] });
  t.match(unsigned, { verdict: 'unsigned', signatures: [] });
  t.match(bad, { verdict: 'malformed' });
  t.match(missing, { error: { code: 'CW_FILE_UNREADABLE' } });
});

t.test('usage errors exit non-zero', async (t) => {
  t.equal((await run([])).code, 2);
  t.equal((await run(['--bogus', 'x'])).code, 2);
  t.equal((await run(['x', '--trust'])).code, 2);
  t.equal((await run(['x', '--trust', '/nonexistent.pem'])).code, 2, 'unreadable trust file is a usage error');
});

t.test('text output', { skip }, async (t) => {
  const fx = peFixtures();
  const { lines } = await run([fx.signed['sha256']!, '--trust', fx.ca]);
  t.match(lines[0], /^valid\t.*sha256\.exe\trsa-signer\t/);
});
