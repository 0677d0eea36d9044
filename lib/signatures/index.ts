// Every signature wxwatch knows, by ID. TRC-104 is Tracee's, exactly; the others are wxwatch's.
import type { Signature } from './signature';
import { CODE_WRITE } from './code-write';
import { IN_MEMORY_FILE } from './in-memory-file';
import { TRC104 } from './trc104';
import { WRITABLE_ALIAS } from './writable-alias';
import { WRITABLE_EXECUTABLE } from './writable-executable';
import { WRITTEN_EXECUTABLE } from './written-executable';

export const SIGNATURES: ReadonlyArray<Signature> = [
  TRC104,
  WRITABLE_ALIAS,
  CODE_WRITE,
  WRITTEN_EXECUTABLE,
  IN_MEMORY_FILE,
  WRITABLE_EXECUTABLE,
];

export function signatureById(id: string): Signature | undefined {
  return SIGNATURES.find((s) => s.metadata.ID === id);
}
