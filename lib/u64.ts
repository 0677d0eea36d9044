// Exact decimal text of 64-bit integers read as two 32-bit halves, without BigInt: the JSON of a
// finding writes several (addresses, inodes, timestamps), and a BigInt per value costs more than
// the rest of the number's work together. Digits are made nine at a time from values below 1e9,
// which V8 formats on its fast small-integer path (a large double takes its slow one).
const TWO32 = 4294967296;
// Below this high half the value is under 2^53: a double holds it exactly.
const EXACT_HI = 0x200000;
const E9 = 1_000_000_000;
const SMALL = 0x7fffffff;

/** r (0 ≤ r < 1e9) as exactly nine digits (`| 0`: a small integer, V8's fast formatting). */
const nine = (r: number) => `${(E9 + r) | 0}`.slice(1);

/** A non-negative integer below 2^53 in decimal. */
function exactText(v: number): string {
  if (v <= SMALL) return `${v | 0}`;
  let q = Math.floor(v / E9);
  let r = v - q * E9;
  // the division rounds: put q and r back in range
  if (r < 0) {
    q--;
    r += E9;
  } else if (r >= E9) {
    q++;
    r -= E9;
  }
  return `${exactText(q)}${nine(r)}`;
}

/** The quotient and remainder of the last divideByE9 (no allocation on the hot path). */
export const quotient = { q: 0, r: 0 };

/** (hi·2^32 + lo) / 1e9 into `quotient`, by long division over 16-bit limbs: every
 * intermediate stays below 2^53. */
export function divideByE9(hi: number, lo: number): void {
  let cur = (hi >>> 16) * 65536 + (hi & 0xffff);
  const q2 = Math.floor(cur / E9);
  cur = (cur - q2 * E9) * 65536 + (lo >>> 16);
  const q1 = Math.floor(cur / E9);
  cur = (cur - q1 * E9) * 65536 + (lo & 0xffff);
  const q0 = Math.floor(cur / E9);
  quotient.q = (q2 * 65536 + q1) * 65536 + q0;
  quotient.r = cur - q0 * E9;
}

/** hi·2^32 + lo (both unsigned 32-bit) in decimal. */
export function u64Text(hi: number, lo: number): string {
  if (hi < EXACT_HI) return exactText(hi * TWO32 + lo);
  divideByE9(hi, lo);
  return `${exactText(quotient.q)}${nine(quotient.r)}`;
}

/** The signed reading of the same bits (hi as signed 32-bit), in decimal. */
export function s64Text(hi: number, lo: number): string {
  if (hi >= 0) return u64Text(hi, lo);
  if (hi >= -EXACT_HI) return `-${exactText(-(hi * TWO32 + lo))}`;
  // -(2^64 - v): negate in two halves
  const nlo = (TWO32 - lo) % TWO32;
  const nhi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  return `-${u64Text(nhi, nlo)}`;
}

/** A 64-bit value as the halves the functions above take, for adding an offset to many. */
export interface U64Parts {
  hi: number;
  lo: number;
}

export function partsOf(value: bigint): U64Parts {
  const v = BigInt.asUintN(64, value);
  return { hi: Number(v >> 32n), lo: Number(v & 0xffffffffn) };
}

/** (hi, lo) + add, modulo 2^64, in decimal. */
export function u64SumText(hi: number, lo: number, add: U64Parts): string {
  let l = lo + add.lo;
  let h = hi + add.hi;
  if (l >= TWO32) {
    l -= TWO32;
    h += 1;
  }
  return u64Text(h >>> 0, l);
}
