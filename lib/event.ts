// The event shape Tracee prints (trace.Event as JSON), which wxwatch events and findings follow
// field for field, plus the mem_prot_alert vocabulary: alert kinds, PROT flags, argument types.

export interface EventArg {
  name: string;
  type: string;
  value: unknown;
}

export interface ContainerInfo {
  id?: string;
  name?: string;
  image?: string;
  imageDigest?: string;
}

export interface KubernetesInfo {
  podName?: string;
  podNamespace?: string;
  podUID?: string;
  podSandbox?: boolean;
}

/** Tracee's event fields, in Tracee's order. 64-bit values are bigint: they do not fit a double. */
export interface TraceeEvent {
  timestamp: bigint;
  threadStartTime: bigint;
  processorId: number;
  processId: number;
  cgroupId: bigint;
  threadId: number;
  parentProcessId: number;
  hostProcessId: number;
  hostThreadId: number;
  hostParentProcessId: number;
  userId: number;
  mountNamespace: number;
  pidNamespace: number;
  processName: string;
  executable: { path: string };
  hostName: string;
  containerId: string;
  container: ContainerInfo;
  kubernetes: KubernetesInfo;
  eventId: string;
  eventName: string;
  matchedPolicies: string[];
  argsNum: number;
  returnValue: number;
  syscall: string;
  stackAddresses: bigint[] | null;
  contextFlags: { containerStarted: boolean; isCompat: boolean };
  threadEntityId: number;
  processEntityId: number;
  parentEntityId: number;
  args: EventArg[];
}

/** Stable event ids (Tracee's own ids change between releases; these do not). */
export const EVENT_IDS = {
  mem_prot_alert: '1001',
  mem_prot_denied: '1002',
  mem_write_alert: '1003',
  dynamic_code_loading: '6104',
  executable_writable_alias: '6901',
  executable_memory_write: '6902',
  written_memory_executable: '6903',
  in_memory_file_code: '6904',
  writable_executable_memory: '6905',
} as const;

/** How bytes reached executable memory (write events), by enum wx_route. */
export const ROUTE_NAMES = ['none', 'proc-mem', 'ptrace', 'process-vm', 'userfaultfd', 'file-write', 'remote'] as const;
export type WriteRoute = (typeof ROUTE_NAMES)[number];

/** The enforcement rule that refused a change (blocked findings), by enum wx_rule. */
export const RULE_NAMES = [
  'none',
  'written-then-executable',
  'writable-and-executable',
  'writable-alias',
  'in-memory-file',
  'executable-memory-write',
  'userfaultfd',
] as const;
export type EnforcementRule = (typeof RULE_NAMES)[number];

export const ALERT = {
  NONE: 0,
  MMAP_W_X: 1,
  MPROT_X_ADD: 2,
  MPROT_W_ADD: 3,
  MPROT_W_REM: 4,
} as const;
export type AlertKind = 1 | 2 | 3 | 4;

export const ALERT_TEXT: Readonly<Record<number, string>> = {
  1: 'Mmaped region with W+E permissions!',
  2: 'Protection changed to Executable!',
  3: 'Protection changed from E to W+E!',
  4: 'Protection changed from W to E!',
};

export function alertText(alert: number): string {
  return ALERT_TEXT[alert] ?? 'Unknown alert';
}

/** PROT_* names in the order Tracee renders them. */
const PROT_FLAGS: ReadonlyArray<[string, number]> = [
  ['PROT_READ', 0x1],
  ['PROT_WRITE', 0x2],
  ['PROT_EXEC', 0x4],
  ['PROT_SEM', 0x8],
  ['PROT_GROWSDOWN', 0x01000000],
  ['PROT_GROWSUP', 0x02000000],
];

export function protText(prot: number): string {
  if (prot === 0) return 'PROT_NONE';
  const names = PROT_FLAGS.filter(([, bit]) => (prot & bit) !== 0).map(([name]) => name);
  return names.join('|');
}

/** mem_prot_alert's arguments: Tracee's names and types, in Tracee's order. */
export const MEM_PROT_ALERT_PARAMS: ReadonlyArray<{ name: string; type: string }> = [
  { name: 'alert', type: 'u32' },
  { name: 'addr', type: 'void*' },
  { name: 'len', type: 'size_t' },
  { name: 'prot', type: 'int' },
  { name: 'prev_prot', type: 'int' },
  { name: 'pathname', type: 'const char*' },
  { name: 'dev', type: 'dev_t' },
  { name: 'inode', type: 'unsigned long' },
  { name: 'ctime', type: 'u64' },
];

export const SYSCALL_NAMES = [
  'mprotect',
  'pkey_mprotect',
  'mmap',
  'mmap2',
  'old_mmap',
  'shmat',
  'unknown',
  'ipc',
  'execve',
  'execveat',
  'write',
  'pwrite64',
  'writev',
  'pwritev',
  'pwritev2',
  'ptrace',
  'process_vm_writev',
  'io_uring_enter',
  'ioctl',
] as const;
export type SyscallName = (typeof SYSCALL_NAMES)[number];

export const REGION_NAMES = ['anonymous', 'heap', 'stack', 'file', 'memfd'] as const;
export type RegionKind = (typeof REGION_NAMES)[number];

/** The code a change made executable, read in the kernel at the moment of the change. */
export interface CodeEvidence {
  /** SHA-256 (hex) of the bytes read: the readable pages of the window, in order. */
  sha256: string;
  /** Where the window starts, and how many bytes it covers (readable or not). */
  addr: bigint;
  bytes: number;
  /** The region is larger than the window (captureBytes). */
  truncated: boolean;
  /** Pages of the window that could not be read (not present; never hashed as zeros), by
   * index from the window's start. Empty when every page was read. */
  unreadablePages: number[];
}

/** A write into memory that was executable in the target (WXW-002). The event's own process is
 * the writer. */
export interface WriteInfo {
  route: WriteRoute;
  /** The process written into (host pid; 0 when the kernel does not say), its name and
   * executable. */
  targetPid: number;
  targetComm: string;
  targetExe: string;
  /** Where the bytes went, and how many (the call's range; see rangeUnsure). */
  addr: bigint;
  len: number;
  /** The writer is another process than the target. */
  crossProcess: boolean;
  /** The writer is the target's ptrace tracer (a debugger's breakpoint is such a write). */
  tracer: boolean;
  /** The range was read from the writer's memory (vectored writes, process_vm_writev in
   * tracepoint mode) or is not known: reported, not exact. */
  rangeUnsure: boolean;
}

/** The other view of an executable alias (WXW-001). */
export interface AliasInfo {
  /** The first other view found covering the same file offsets, and its process. */
  start: bigint;
  end: bigint;
  pid: number;
  /** The executable view came first; this finding is the writable view's creation. */
  executableFirst: boolean;
  /** Not every mapping of the file could be checked: reported, not exact. */
  unsure: boolean;
}

/** A record that stands for `count` changes not written one by one (past the records one call
 * writes, or a process's fair share of a filling ring), from `first` to `last`. */
export interface SummaryInfo {
  count: number;
  first: bigint;
  last: bigint;
}

/** What wxwatch adds to Tracee's event; kept apart so Tracee's field set stays as it is. */
export interface WxwatchExtras {
  /** The VMA the alert is about, as it was before the call. */
  vmaStart: bigint;
  vmaEnd: bigint;
  /** The VMA's protection before the call as PROT bits (Tracee's prev_prot is raw vm_flags). */
  prevProt: number;
  /** Its protection after the call, as PROT bits. */
  newProt: number;
  /** The protection before could not be read exactly (a range of more VMAs than one snapshot
   * holds): the finding is reported, flagged, never dropped. */
  prevProtUnknown: boolean;
  /** Judged on the VMA's later state: on a preemptible kernel the kernel skipped every copy of
   * the program that sees a change's outcome, and the next change of the process judged it. */
  outcomeLate: boolean;
  /** Reported before the change took effect: with no state to carry it to its end (a task's
   * storage busy under preemption), the change may yet have failed. Counted in noState. */
  outcomeUnknown: boolean;
  /** EXEC was not asked for: the READ_IMPLIES_EXEC personality added it. */
  readImpliesExec: boolean;
  /** The file is also mapped shared and writable (writableMappings other mappings): its code
   * can change under the executable view without any protection change. */
  writableAlias: boolean;
  writableMappings: number;
  /** Refused by wxwatch's enforcement, and the rule that refused it. */
  blocked: boolean;
  rule?: EnforcementRule;
  /** The memory was written since it was mapped (anon pages, or file pages copied on write). */
  written: boolean;
  /** It comes from a file that lives only in memory: a memfd, tmpfs, ramfs, hugetlbfs, or a
   * deleted file. */
  inMemoryFile: boolean;
  alias?: AliasInfo;
  write?: WriteInfo;
  summary?: SummaryInfo;
  /** The code made executable (W→X, alias and blocked findings, when captured). */
  code?: CodeEvidence;
  /** No code was captured although it would have been: the capture budget was spent. */
  codeSkipped: boolean;
  region: RegionKind;
  fileDeleted: boolean;
  /** The file's path lost leading components (deeper than 48 or longer than 4095 bytes). */
  pathTruncated: boolean;
  /** The process's executable has no links left, and its path lost leading components. */
  exeDeleted: boolean;
  exeTruncated: boolean;
  /** The call failed (only with the denied event enabled). */
  denied: boolean;
  /** The task's cgroup v2 node, "parent/leaf". */
  cgroup: string;
}
