// WXW-004, "Code from an in-memory file": a memfd, a tmpfs or shared-memory file, a ramfs or
// hugetlbfs file, or a deleted file, with bytes in it, mapped or made executable — code that
// never was a file on disk (fexecve of a memfd, a payload written to /dev/shm and mapped).
// wxwatch's own.
import type { Signature } from './signature';
import { REFLECTIVE_CODE_LOADING } from './techniques';

const VM_EXEC = 0x4;

export const IN_MEMORY_FILE: Signature = {
  metadata: {
    ID: 'WXW-004',
    Version: '1',
    Name: 'Code from an in-memory file',
    EventName: 'in_memory_file_code',
    Description:
      'A file that exists only in memory (a memfd, tmpfs or shared memory file, or a deleted file) was mapped or made executable. Running code from memory instead of a file on disk may indicate that an adversary is trying to avoid execution detection.',
    Tags: null,
    Properties: { ...REFLECTIVE_CODE_LOADING },
  },
  alertKinds: [],
  refusedBy: ['in-memory-file'],
  recordFlags: ['IN_MEMORY_FILE'],
  matches: (event) =>
    !event.isWrite &&
    event.inMemoryFile &&
    !event.denied &&
    (event.newVmFlags & VM_EXEC) !== 0 &&
    (event.prevVmFlags & VM_EXEC) === 0,
};
