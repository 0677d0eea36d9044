// WXW-002, "Code written into executable memory": bytes written into memory that is executable
// in the target at that moment, with no change of protection at all: /proc/PID/mem (DDexec's
// route), ptrace pokes, process_vm_writev into RWX memory, userfaultfd fills, or a write to a
// file while it is mapped executable. The finding's process is the writer; wxwatch.write names
// the target, the range and the route, and the code evidence is what was written. wxwatch's own.
import type { Signature } from './signature';
import { PROCESS_INJECTION } from './techniques';

export const CODE_WRITE: Signature = {
  metadata: {
    ID: 'WXW-002',
    Version: '1',
    Name: 'Code written into executable memory',
    EventName: 'executable_memory_write',
    Description:
      'Bytes were written into memory that was executable in the target process, without any change of memory protection (through /proc/PID/mem, ptrace, process_vm_writev, userfaultfd or a write to a file mapped executable). Writing into executable memory is a way to inject and run code undetected and without dropping executables.',
    Tags: null,
    Properties: { ...PROCESS_INJECTION },
  },
  alertKinds: [0],
  refusedBy: ['executable-memory-write', 'userfaultfd'],
  matches: (event) => event.isWrite && !event.denied,
};
