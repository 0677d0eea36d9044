// Byte offsets of struct wx_record (bpf/wxwatch.h). They are written out here so that the
// decoder reads constants, and checked against the addon's offsetof() values when the addon
// loads (lib/native.ts): a layout change on one side fails loudly instead of decoding garbage.
import type { NativeLayout } from './native';

export const FIXED_SIZE = 192;
export const ALIGN = 8;
/** The largest record: fixed part, UTS name, two paths, two cgroup names. */
export const MAX_SIZE = FIXED_SIZE + 64 + 2 * 4096 + 2 * 128;
export const COMM_LEN = 16;

export const OFF = {
  size: 0,
  alert: 4,
  ts_boot_ns: 8,
  thread_start_boot_ns: 16,
  addr: 24,
  len: 32,
  vma_start: 40,
  vma_end: 48,
  prev_vm_flags: 56,
  inode: 64,
  ctime_ns: 72,
  cgroup_id: 80,
  ret: 88,
  prot: 96,
  dev: 100,
  host_pid: 104,
  host_tid: 108,
  host_ppid: 112,
  ns_pid: 116,
  ns_tid: 120,
  ns_ppid: 124,
  uid: 128,
  mnt_ns: 132,
  pid_ns: 136,
  cpu: 140,
  syscall: 144,
  region: 146,
  flags: 147,
  uts_len: 148,
  path_len: 150,
  exe_len: 152,
  cgroup_len: 154,
  comm: 160,
  leader_start_boot_ns: 176,
  parent_start_boot_ns: 184,
} as const;

/** Throws if the layout compiled into the addon differs from the one above. */
export function checkLayout(native: NativeLayout): void {
  const problems: string[] = [];
  if (native.fixedSize !== FIXED_SIZE) problems.push(`size ${native.fixedSize} != ${FIXED_SIZE}`);
  if (native.maxSize !== MAX_SIZE) problems.push(`max size ${native.maxSize} != ${MAX_SIZE}`);
  if (native.align !== ALIGN) problems.push(`align ${native.align} != ${ALIGN}`);
  if (native.commLen !== COMM_LEN) problems.push(`comm ${native.commLen} != ${COMM_LEN}`);
  const names = new Set([...Object.keys(native.offsets), ...Object.keys(OFF)]);
  for (const name of names) {
    const mine = (OFF as Record<string, number>)[name];
    if (mine !== native.offsets[name]) problems.push(`${name} at ${native.offsets[name]} != ${mine}`);
  }
  if (problems.length) throw new Error(`wxwatch: record layout mismatch with the addon: ${problems.join('; ')}`);
}
