import t from 'tap';
import { canonicalJson } from '../src/canonical.js';

t.test('field order and undefined fields do not change the text', async (t) => {
  t.equal(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: undefined } }), '{"a":{"d":[2,{"x":0,"y":1}]},"b":1}');
  t.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
  t.not(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }), 'array order is content');
  t.equal(canonicalJson('x'), '"x"');
  t.equal(canonicalJson(null), 'null');
});
