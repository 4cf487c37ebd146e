import t from 'tap';
import { normalizeSerial, normalizeHex, normalizeSoftwareName, hashTypeOf } from '../src/normalize.js';

t.test('serials normalise from every published form to one', async (t) => {
  // Forms of the X_TRADER certificate serial as public sources print it.
  for (const s of ['85:38:a6:c5:01:8f:50:fc', '00 85 38 A6 C5 01 8F 50 FC', '008538A6C5018F50FC', '0x8538a6c5018f50fc']) {
    t.equal(normalizeSerial(s), '8538a6c5018f50fc', s);
  }
  t.equal(normalizeSerial('1B 66 11 DF 9C 9A 4D 6E CC 8E D5 0C 9B 91 78 73'), '1b6611df9c9a4d6ecc8ed50c9b917873');
  t.equal(normalizeSerial('00'), '0');
  t.equal(normalizeSerial('zz:11'), null);
  t.equal(normalizeSerial(''), null);
});

t.test('hex digests', async (t) => {
  t.equal(normalizeHex('AB:CD'.repeat(1)), null);
  t.equal(normalizeHex('A'.repeat(64)), 'a'.repeat(64));
  t.equal(hashTypeOf('a'.repeat(40)), 'sha1');
  t.equal(hashTypeOf('a'.repeat(33)), null);
});

t.test('software names', async (t) => {
  t.equal(normalizeSoftwareName('3CX Desktop App'), normalizeSoftwareName('3cx-desktop-app'));
  t.equal(normalizeSoftwareName('3CXDesktopApp'), '3cxdesktopapp');
  t.not(normalizeSoftwareName('X_TRADER'), normalizeSoftwareName('X TRADER Pro'));
});
