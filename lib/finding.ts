// A finding as the sensor delivers it: Tracee's {SigMetadata, Event, Data}, and a toJSON() that
// gives the documented detection object, so JSON.stringify(finding) works. Nothing is read from
// the record until someone asks.
import type { MemProtAlert } from './mem-prot-alert';
import { detectionObject } from './output/json';
import { jsonSafe } from './output/json-safe';
import type { Finding, SignatureMetadata } from './signatures/signature';

export class Detection implements Finding {
  readonly Data = null;
  constructor(
    readonly SigMetadata: SignatureMetadata,
    readonly Event: MemProtAlert,
  ) {}

  /** The detection JSON's object; 64-bit values as numbers when exact, else decimal strings.
   * detectionJson() writes them exactly. */
  toJSON(): unknown {
    return jsonSafe(detectionObject(this));
  }
}
