// Byte offsets of struct wx_record (bpf/wxwatch.h). They are written out here so that the
// decoder reads constants, and checked against the addon's offsetof() values when the addon
// loads (lib/native.ts): a layout change on one side fails loudly instead of decoding garbage.
import type { NativeLayout } from './native';

export const FIXED_SIZE = 224;
export const ALIGN = 8;
/** The most code bytes a record carries (WX_CODE_MAX) and the page they are read by. */
export const CODE_MAX = 65536;
export const CODE_PAGE = 4096;
/** The largest record: fixed part, UTS name, two paths, two cgroup names, code. */
export const MAX_SIZE = FIXED_SIZE + 64 + 2 * 4096 + 2 * 128 + CODE_MAX;
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
  new_vm_flags: 64,
  inode: 72,
  ctime_ns: 80,
  cgroup_id: 88,
  leader_start_boot_ns: 96,
  parent_start_boot_ns: 104,
  ret: 112,
  prot: 120,
  dev: 124,
  host_pid: 128,
  host_tid: 132,
  host_ppid: 136,
  ns_pid: 140,
  ns_tid: 144,
  ns_ppid: 148,
  uid: 152,
  mnt_ns: 156,
  pid_ns: 160,
  cpu: 164,
  flags: 168,
  writable_maps: 172,
  syscall: 176,
  region: 178,
  uts_len: 180,
  path_len: 182,
  exe_len: 184,
  cgroup_len: 186,
  comm: 188,
  code_len: 204,
  code_addr: 208,
  code_window: 216,
  code_missing: 220,
} as const;

/** wx_record.flags (enum wx_flag). */
export const FLAG = {
  HAS_FILE: 1 << 0,
  FILE_DELETED: 1 << 1,
  DENIED: 1 << 2,
  COMPAT: 1 << 3,
  PREV_UNKNOWN: 1 << 4,
  WRITABLE_ALIAS: 1 << 5,
  READ_IMPLIES_EXEC: 1 << 6,
  BLOCKED: 1 << 7,
  EXE_DELETED: 1 << 8,
  PATH_TRUNCATED: 1 << 9,
  EXE_TRUNCATED: 1 << 10,
  CODE_TRUNCATED: 1 << 11,
  CODE_SKIPPED: 1 << 12,
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
