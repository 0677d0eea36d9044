// WXW-005, "Writable and executable memory": memory that is writable and executable at once,
// made so by a mapping (mmap with PROT_WRITE|PROT_EXEC, shmat with SHM_EXEC on a writable
// attach, READ_IMPLIES_EXEC) or a change of protection. Code written there later runs with no
// further change for any sensor to see; JITs with an RWX code cache (Java, QEMU) do this once
// per process. wxwatch's own.
import { ALERT } from '../event';
import type { Signature } from './signature';
import { SOFTWARE_PACKING } from './techniques';

const WX = 0x2 | 0x4; // VM_WRITE | VM_EXEC

export const WRITABLE_EXECUTABLE: Signature = {
  metadata: {
    ID: 'WXW-005',
    Version: '1',
    Name: 'Writable and executable memory',
    EventName: 'writable_executable_memory',
    Description:
      "Memory was made writable and executable at once. Code written there later runs without any further change of memory protection, a way to run code undetected and without dropping executables.",
    Tags: null,
    Properties: { ...SOFTWARE_PACKING },
  },
  alertKinds: [ALERT.MMAP_W_X, ALERT.MPROT_X_ADD, ALERT.MPROT_W_ADD],
  refusedBy: ['writable-and-executable'],
  matches: (event) =>
    !event.isWrite && !event.denied && (event.newVmFlags & WX) === WX && (event.prevVmFlags & WX) !== WX,
};
