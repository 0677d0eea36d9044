// Decoding: a batch from the addon is records back to back (struct wx_record + strings + code),
// then a SHA-256 (hex) per record that the drain thread computed. A MemProtAlert is a view of
// one record that reads each field when asked (getters made from lib/event-fields.ts), so a
// finding nobody looks at costs almost nothing; toObject() materialises all of it.
import { BatchView, DIGEST_BYTES } from './batch-view';
import { EVENT_FIELDS, EventProps, EventValues, RECORD_PROPS } from './event-fields';
import { jsonSafe } from './output/json-safe';
import { ALIGN, FIXED_SIZE, OFF } from './record-layout';
import { compileObject, installGetters, RecordRef, tailSpan } from './shape';

export { BatchView };

const toObject = compileObject(EVENT_FIELDS);
// read once: a re-exported binding (OFF) is a getter call on every use
const SIZE_AT = OFF.size;

// The getters come from EVENT_FIELDS; this interface gives them their types.
export interface MemProtAlert extends EventValues, EventProps {}

export class MemProtAlert implements RecordRef {
  constructor(
    /** The batch (internal: the JSON writers read it directly). */
    readonly b: BatchView,
    /** The record's offset in it, and its index. */
    readonly o: number,
    readonly i: number,
  ) {}

  /** The captured code bytes (a view of the batch, not a copy), or an empty array. */
  get codeBytes(): Uint8Array {
    const [start, end] = tailSpan(this.b.view, this.o, 'code');
    return this.b.bytes.subarray(start, end);
  }

  /** For JSON.stringify: toObject() with 64-bit values as numbers when exact, else strings. */
  toJSON(): unknown {
    return jsonSafe(this.toObject());
  }

  /** All fields as a plain object, Tracee's order, then wxwatch's extras; 64-bit values bigint. */
  toObject(): EventValues {
    return toObject(this) as EventValues;
  }
}
installGetters(MemProtAlert.prototype, EVENT_FIELDS);
installGetters(MemProtAlert.prototype, RECORD_PROPS);

/** Calls fn(offset, index) for each record, checking that each lies inside the batch; returns
 * where the records end. */
export function forEachRecord(view: DataView, records: number, fn?: (offset: number, index: number) => void): number {
  let offset = 0;
  for (let i = 0; i < records; i++) {
    const size = view.getUint32(offset + SIZE_AT, true);
    if (size < FIXED_SIZE || offset + size > view.byteLength) {
      throw new RangeError(`wxwatch: corrupt batch: record ${i} at ${offset} has size ${size}`);
    }
    fn?.(offset, i);
    offset += (size + ALIGN - 1) & ~(ALIGN - 1);
  }
  return offset;
}

/** A batch's view, with its digests located: right after the records, one per record. */
export function batchView(buffer: ArrayBuffer, records: number, bootToEpochNs: bigint): BatchView {
  const batch = new BatchView(buffer, bootToEpochNs);
  const end = forEachRecord(batch.view, records);
  if (end + records * DIGEST_BYTES === buffer.byteLength) batch.digestsAt = end;
  else if (end !== buffer.byteLength) throw new RangeError(`wxwatch: corrupt batch: ${buffer.byteLength - end} bytes after ${records} records`);
  return batch;
}

/** Splits a batch into one MemProtAlert per record. */
export function decodeBatch(buffer: ArrayBuffer, records: number, bootToEpochNs: bigint): MemProtAlert[] {
  const batch = batchView(buffer, records, bootToEpochNs);
  const out = new Array<MemProtAlert>(records);
  forEachRecord(batch.view, records, (offset, i) => (out[i] = new MemProtAlert(batch, offset, i)));
  return out;
}
