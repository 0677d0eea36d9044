// What every signature is: Tracee's metadata shape and a condition over mem_prot_alert events.
import type { MemProtAlert } from '../mem-prot-alert';

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
  /** Alert kinds the condition can ever match: the native prefilter passes only these. */
  alertKinds: ReadonlyArray<number>;
  matches(event: MemProtAlert): boolean;
}

/** Tracee's finding: the signature's metadata, the triggering event, no extra data. */
export interface Finding {
  SigMetadata: SignatureMetadata;
  Event: MemProtAlert;
  Data: null;
}
