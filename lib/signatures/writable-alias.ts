// WXW-001, "Executable alias of writable memory": a file (memfd, shared memory, tmpfs, any file)
// mapped or made executable while another shared view that may write covers the same file
// offsets — or such a writable view made while an executable one exists (the exec-first order
// of .NET's and BEAM's double mapping). Judged by file offsets: one file's disjoint views (PHP
// opcache's split segment) are no alias. Code written
// through the writable view runs through the executable one with no protection change at all,
// which TRC-104 cannot see (UPX 5, .NET's W^X double mapping, memfd loaders). wxwatch's own
// signature, in the same shape as Tracee's.
import type { Signature } from './signature';
import { SOFTWARE_PACKING } from './techniques';

export const WRITABLE_ALIAS: Signature = {
  metadata: {
    ID: 'WXW-001',
    Version: '1',
    Name: 'Executable alias of writable memory',
    EventName: 'executable_writable_alias',
    Description:
      'A file was mapped or made executable while another mapping of the same part of it can write (or such a writable mapping was made while an executable one exists). Code written through the writable mapping runs through the executable one without any change of memory protection, a way to load code undetected and without dropping executables.',
    Tags: null,
    Properties: { ...SOFTWARE_PACKING },
  },
  alertKinds: [],
  refusedBy: ['writable-alias'],
  recordFlags: ['WRITABLE_ALIAS'],
  matches: (event) => !event.isWrite && event.writableAlias && !event.denied,
};
