// One batch from the addon: its bytes, the names in them, the digests the drain thread wrote
// after the records, and the clock offset that turns boot-time stamps into epoch time.
import { RecordText } from './record-text';
import { partsOf, U64Parts } from './u64';

/** Each record's digest in a batch: its SHA-256 in hex (ASCII), or a first byte 0 where none was made. */
export const DIGEST_BYTES = 64;

/** One batch's memory, its digests, and the clock offset that turns its boot-time stamps into
 * epoch time. */
export class BatchView {
  readonly view: DataView;
  readonly bytes: Uint8Array;
  readonly text: RecordText;
  readonly epochParts: U64Parts;
  /** Where the digests start: -1 for a batch without them (nothing was hashed). */
  digestsAt = -1;
  constructor(
    buffer: ArrayBuffer,
    readonly bootToEpochNs: bigint,
  ) {
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
    this.text = new RecordText(this.bytes);
    this.epochParts = partsOf(bootToEpochNs);
  }

  private memoAt = -1;
  private memoKey = '';
  private memoValue = '';

  /** compute(), remembered for one record and key at a time: fields derived from the same
   * string ask for it in a row. */
  memo(offset: number, key: string, compute: () => string): string {
    if (offset !== this.memoAt || key !== this.memoKey) {
      this.memoValue = compute();
      this.memoAt = offset;
      this.memoKey = key;
    }
    return this.memoValue;
  }

  /** Record i's digest in hex, or null: no byte of its code was read (or none was hashed). */
  digestHex(i: number): string | null {
    if (this.digestsAt < 0) return null;
    const at = this.digestsAt + i * DIGEST_BYTES;
    // The drainer writes a 0 first byte where it hashed nothing.
    return this.bytes[at] === 0 ? null : this.text.latin1(at, at + DIGEST_BYTES);
  }

  /** digestJson(i) as bytes at b[a] (room for 66 made by the caller). */
  digestJsonInto(b: Buffer, a: number, i: number): number {
    const at = this.digestsAt + i * DIGEST_BYTES;
    if (this.digestsAt < 0 || this.bytes[at] === 0) {
      b[a] = 0x6e; // null
      b[a + 1] = 0x75;
      b[a + 2] = 0x6c;
      b[a + 3] = 0x6c;
      return a + 4;
    }
    b[a] = 0x22;
    b.set(this.bytes.subarray(at, at + DIGEST_BYTES), a + 1);
    b[a + 1 + DIGEST_BYTES] = 0x22;
    return a + 2 + DIGEST_BYTES;
  }

  digestJson(i: number): string {
    if (this.digestsAt < 0) return 'null';
    const at = this.digestsAt + i * DIGEST_BYTES;
    return this.bytes[at] === 0 ? 'null' : `"${this.text.latin1(at, at + DIGEST_BYTES)}"`;
  }
}

