// Every signature wxwatch knows, by ID. TRC-104 is Tracee's, exactly; the others are wxwatch's.
import type { Signature } from './signature';
import { TRC104 } from './trc104';
import { WRITABLE_ALIAS } from './writable-alias';

export const SIGNATURES: ReadonlyArray<Signature> = [TRC104, WRITABLE_ALIAS];

export function signatureById(id: string): Signature | undefined {
  return SIGNATURES.find((s) => s.metadata.ID === id);
}
