// What every signature is: Tracee's metadata shape and a condition over mem_prot_alert events.
import type { MemProtAlert } from '../mem-prot-alert';
import type { FLAG } from '../record-layout';
import type { EnforcementRule } from '../event';
import type { Field } from '../shape';

export interface SignatureMetadata {
  ID: string;
  Version: string;
  Name: string;
  EventName: string;
  Description: string;
  Tags: string[] | null;
  Properties: Record<string, string | number>;
}

export interface Signature {
  metadata: SignatureMetadata;
  /** Alert kinds the condition can ever match, and record flags (lib/record-layout.ts FLAG)
   * it can match on: the native prefilter passes only records with one of them, and the sensor
   * offers the signature only records with one of its own. */
  alertKinds: ReadonlyArray<number>;
  recordFlags?: ReadonlyArray<keyof typeof FLAG>;
  /** The enforcement rules whose refusals this signature reports: a refused change is one
   * finding, of the rule that refused it, not one per signature its flags would also match. */
  refusedBy?: ReadonlyArray<EnforcementRule>;
  matches(event: MemProtAlert): boolean;
  /** This signature's own fields, after wxwatch's in its findings' `wxwatch` object (entries as
   * in lib/event-fields.ts). */
  fields?: readonly Field[];
}

/** Tracee's finding: the signature's metadata, the triggering event, no extra data. */
export interface Finding {
  SigMetadata: SignatureMetadata;
  Event: MemProtAlert;
  Data: null;
}
