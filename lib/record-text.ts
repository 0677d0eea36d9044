// Names in records (paths, comm, host name, cgroup) are the kernel's bytes: usually UTF-8, but
// nothing makes them so, and a name that decodes to U+FFFD no longer names its file. They are
// decoded losslessly: valid UTF-8 as its characters, any other byte as the four characters \xNN,
// and a backslash as \\ — the escapes of bash's $'…' and printf %b, which give the bytes back.
import { jsonString } from './output/escape';

// Printable ASCII but the backslash: decoded as it is. Without '"' too: JSON as it is.
const enum Byte {
  Space = 0x20,
  Tilde = 0x7e,
  Quote = 0x22,
  Backslash = 0x5c,
}

/** 0: printable ASCII, nothing to escape anywhere; 1: needs JSON's quote escape only; 2: other. */
function plainness(bytes: Uint8Array, start: number, end: number): number {
  let quote = 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c < Byte.Space || c > Byte.Tilde || c === Byte.Backslash) return 2;
    if (c === Byte.Quote) quote = 1;
  }
  return quote;
}

const hex2 = (b: number) => `\\x${b < 16 ? '0' : ''}${b.toString(16)}`;

/** The length of a valid UTF-8 sequence starting at i (2–4), or 0 (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF). */
function sequenceLength(bytes: Uint8Array, i: number, end: number): number {
  const b0 = bytes[i];
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < end && bytes[i + k] >= lo && bytes[i + k] <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xe1 && b0 <= 0xec) || b0 === 0xee || b0 === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b0 === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

function decodeSlow(bytes: Uint8Array, start: number, end: number): string {
  let out = '';
  for (let i = start; i < end; ) {
    const c = bytes[i];
    if (c < 0x80) {
      out += c === Byte.Backslash ? '\\\\' : String.fromCharCode(c);
      i++;
      continue;
    }
    const n = sequenceLength(bytes, i, end);
    if (!n) {
      out += hex2(c);
      i++;
      continue;
    }
    let cp = c & (0xff >> (n + 1));
    for (let k = 1; k < n; k++) cp = (cp << 6) | (bytes[i + k] & 0x3f);
    out += String.fromCodePoint(cp);
    i += n;
  }
  return out;
}

// Buffer's own latin1 reader, without toString()'s argument checks (it runs for every name).
type Latin1 = { latin1Slice(start: number, end: number): string };

/** Reads names out of one batch's bytes. */
export class RecordText {
  private readonly buf: Latin1;
  constructor(private readonly bytes: Uint8Array) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as unknown as Latin1;
  }

  /** Bytes [start, end) one character each: for ASCII known to be plain. */
  latin1(start: number, end: number): string {
    return this.buf.latin1Slice(start, end);
  }

  /** The name in bytes [start, end), decoded losslessly (see above). */
  text(start: number, end: number): string {
    if (start === end) return '';
    return plainness(this.bytes, start, end) < 2 ? this.buf.latin1Slice(start, end) : decodeSlow(this.bytes, start, end);
  }

  /** The same name as a JSON string, escaped as every output escapes (lib/output/escape.ts). */
  json(start: number, end: number): string {
    if (start === end) return '""';
    const kind = plainness(this.bytes, start, end);
    if (kind === 0) return `"${this.buf.latin1Slice(start, end)}"`;
    return jsonString(kind === 1 ? this.buf.latin1Slice(start, end) : decodeSlow(this.bytes, start, end));
  }

  /** The same JSON, as bytes written at b[a] (room for 6 per name byte, and the quotes, made by
   * the caller); returns the position after it. Plain bytes are copied as they are checked. */
  jsonInto(b: Buffer, a: number, start: number, end: number): number {
    const bytes = this.bytes;
    b[a] = Byte.Quote;
    let p = a + 1;
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      if (c < Byte.Space || c > Byte.Tilde || c === Byte.Backslash || c === Byte.Quote) return a + b.write(this.json(start, end), a);
      b[p++] = c;
    }
    b[p] = Byte.Quote;
    return p + 1;
  }

  cJsonInto(b: Buffer, a: number, start: number, max: number): number {
    return this.jsonInto(b, a, start, this.cEnd(start, max));
  }

  /** A NUL-terminated name of at most `max` bytes (comm). */
  cText(start: number, max: number): string {
    return this.text(start, this.cEnd(start, max));
  }

  cJson(start: number, max: number): string {
    return this.json(start, this.cEnd(start, max));
  }

  private cEnd(start: number, max: number): number {
    let end = start;
    while (end < start + max && this.bytes[end] !== 0) end++;
    return end;
  }
}
