// WXW-003, "Written memory made executable": EXEC gained on memory written since it was mapped
// (anonymous pages, or file pages copied on write), however many steps in between — RW, write,
// R, RX; or RW to RWX. TRC-104 (Tracee's alert 4) reports the one-step RW→RX itself and stays
// exactly Tracee's condition, so this one does not repeat it. wxwatch's own.
import { ALERT } from '../event';
import type { Signature } from './signature';
import { SOFTWARE_PACKING } from './techniques';

const VM_EXEC = 0x4;

export const WRITTEN_EXECUTABLE: Signature = {
  metadata: {
    ID: 'WXW-003',
    Version: '1',
    Name: 'Written memory made executable',
    EventName: 'written_memory_executable',
    Description:
      'Memory that was written since it was mapped became executable through an intermediate step (for instance writable, then read-only, then executable), which a check of the last protection change alone misses. This could be a technique used by adversaries to run code undetected and without dropping executables.',
    Tags: null,
    Properties: { ...SOFTWARE_PACKING },
  },
  alertKinds: [ALERT.MPROT_X_ADD],
  refusedBy: ['written-then-executable'],
  recordFlags: ['WRITTEN'],
  matches: (event) =>
    !event.isWrite &&
    event.written &&
    !event.denied &&
    event.alert !== ALERT.MPROT_W_REM &&
    (event.newVmFlags & VM_EXEC) !== 0 &&
    (event.prevVmFlags & VM_EXEC) === 0,
};
