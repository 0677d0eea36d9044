// 64-bit integers written exactly without BigInt (lib/u64.ts for strings, lib/byte-writer.ts for
// bytes), against BigInt's own digits at the edges and at random.
import assert from 'node:assert/strict';
import * as W from '../../lib/byte-writer';
import { s64Text, u64SumText, u64Text } from '../../lib/u64';

const EDGES = [0n, 1n, 9n, 10n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 10n ** 18n, 2n ** 64n - 1n];

function random64(): bigint {
  const hi = BigInt(Math.floor(Math.random() * 2 ** 32));
  const lo = BigInt(Math.floor(Math.random() * 2 ** 32));
  // values of every size, not only around 2^63
  return ((hi << 32n) | lo) >> BigInt(Math.floor(Math.random() * 64));
}

const halves = (v: bigint) => [Number(BigInt.asUintN(64, v) >> 32n), Number(BigInt.asUintN(64, v) & 0xffffffffn)] as const;
const written = (write: (b: Buffer, a: number) => number) => {
  const b = Buffer.alloc(32);
  return b.toString('latin1', 3, write(b, 3));
};

describe('64-bit numbers without BigInt', () => {
  const values = [...EDGES, ...Array.from({ length: 2000 }, random64)];

  it('writes unsigned values exactly, as text and as bytes', () => {
    for (const v of values) {
      const [hi, lo] = halves(v);
      assert.equal(u64Text(hi, lo), v.toString());
      assert.equal(written((b, a) => W.u64(b, a, hi, lo)), v.toString());
    }
  });

  it('writes signed values exactly', () => {
    for (const u of values) {
      const v = BigInt.asIntN(64, u);
      const [hi, lo] = halves(v);
      const shi = hi | 0; // the high half read as signed
      assert.equal(s64Text(shi, lo), v.toString());
      assert.equal(written((b, a) => W.s64(b, a, shi, lo)), v.toString());
    }
  });

  it('adds a clock offset modulo 2^64', () => {
    const add = 1_764_000_000_000_000_000n;
    const parts = { hi: halves(add)[0], lo: halves(add)[1] };
    for (const v of values) {
      const [hi, lo] = halves(v);
      const want = BigInt.asUintN(64, v + add).toString();
      assert.equal(u64SumText(hi, lo, parts), want);
      assert.equal(written((b, a) => W.u64Sum(b, a, hi, lo, parts)), want);
    }
  });

  it('writes 32-bit integers, signed and not', () => {
    for (const v of [0, 7, 10, 12345, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]) assert.equal(written((b, a) => W.uint(b, a, v)), String(v));
    for (const v of [-1, -10, -(2 ** 31)]) assert.equal(written((b, a) => W.int(b, a, v)), String(v));
  });
});
