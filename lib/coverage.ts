// What a hook mode sees, said in words a user can act on: the routes by which code comes to run
// that it cannot see on this kernel (from the programs the kernel took), and what enforcement
// cannot refuse. Printed at start by the CLI, returned by start(), listed in the README.
import type { WriteRoute } from './event';

export interface Coverage {
  /** Routes of WXW-002 this mode does not see here (no hook on them). */
  unseen: WriteRoute[];
  /** Why each is unseen, and what this mode sees of the rest only inexactly (flagged). */
  notes: string[];
}

const has = (programs: readonly string[], ...names: string[]) => names.some((n) => programs.includes(n));

/** The coverage of the mode that started, from the object it loaded (lib/native.ts StartInfo)
 * and the names of the programs the kernel took. */
export function coverageOf(mode: string, object: 'main' | 'lts', programs: readonly string[]): Coverage {
  const unseen: WriteRoute[] = [];
  const notes: string[] = [];
  if (mode === 'tracepoint') {
    unseen.push('userfaultfd', 'file-write');
    notes.push(
      'userfaultfd fills are not seen in tracepoint mode (they take no mmap lock since 6.4); memory they fill and then make executable is reported as written memory made executable (WXW-003)',
      'writes to a file mapped executable are not seen in tracepoint mode (no hook on write())',
      'writes through /proc/PID/mem from io_uring are not seen in tracepoint mode; a vectored write (writev) and process_vm_writev are judged on a range read from the writer\'s memory, flagged rangeUnsure',
    );
    return { unseen, notes };
  }
  if (!has(programs, 'fentry__security_file_permission')) {
    unseen.push('file-write');
    notes.push('writes to a file mapped executable are not seen: this kernel has no hookable security_file_permission');
  }
  if (!has(programs, 'fentry__mfill_atomic_copy', 'fentry__mcopy_atomic')) {
    unseen.push('userfaultfd');
    notes.push('userfaultfd fills are not seen: this kernel has no mfill_atomic_copy or mcopy_atomic to hook');
  } else if (object === 'lts') {
    notes.push('userfaultfd UFFDIO_CONTINUE (Linux 5.13) is not seen on kernels before 6.0; memory it fills and then makes executable is reported as written memory made executable (WXW-003)');
  }
  if (!has(programs, 'fentry__get_user_pages_remote', 'fentry__follow_page_mask')) {
    unseen.push('proc-mem', 'ptrace', 'process-vm');
    notes.push('forced writes into other processes are not seen: this kernel has no hookable get_user_pages_remote or follow_page_mask');
  }
  if (object === 'lts')
    notes.push('a write to a file with more than 16 views, none of them executable over the pages written among those seen, is reported without its target (flagged rangeUnsure)');
  return { unseen, notes };
}

/** What enforcement cannot refuse, in every kernel it runs on: said at start and in the README. */
export const NOT_REFUSED = [
  'brk() growing an executable heap under the READ_IMPLIES_EXEC personality (no security hook on brk)',
  'an executable stack set up by execve for a binary that asks for one (PT_GNU_STACK)',
  'a write() into a file while it is mapped executable (reported as WXW-002 in lsm-hook mode, not refused)',
];
