// The one list of what a mem_prot_alert event carries, in output order: Tracee's fields, then
// wxwatch's. RecordRef's getters, its plain object and the JSON of events and findings are
// all made from it (lib/shape.ts), so a new field is one entry here. A member the kernel adds
// to struct wx_record is read by its name (lib/wire.ts, generated from bpf/wxwatch.h); a new
// signature's own fields go in its `fields` (lib/signatures/signature.ts).
import { alertText, EnforcementRule, EVENT_IDS, MEM_PROT_ALERT_PARAMS, protText, REGION_NAMES, ROUTE_NAMES, RULE_NAMES, SYSCALL_NAMES } from './event';
import { containerIdFromCgroup, podUidFromCgroup } from './container';
import { jsonString } from './output/escape';
import { FLAG, OFF } from './record-layout';
import {
  AllProps,
  constant,
  digest,
  enumOf,
  epoch,
  Field,
  flag,
  get,
  int,
  list,
  low32,
  num64,
  object,
  optional,
  RecordRef,
  tailSpan,
  text,
  u64,
  Values,
} from './shape';
import type { SignatureMetadata } from './signatures/signature';

// Offsets read once: a re-exported binding (OFF) is a getter call on every use.
const FLAGS_AT = OFF.flags;
const EVENT_AT = OFF.event;
const CODE_MISSING_AT = OFF.code_missing;
const CODE_WINDOW_AT = OFF.code_window;
const DENIED = FLAG.DENIED;
const RULE_AT = OFF.rule;

/** FNV-1a over a 32-bit id and the 8 little-endian bytes of a start time: an entity id. */
function entityId(e: RecordRef, idAt: number, startAt: number): number {
  const v = e.b.view;
  const id = v.getUint32(e.o + idAt, true);
  let h = 0x811c9dc5;
  for (let i = 0; i < 4; i++) h = Math.imul(h ^ ((id >>> (8 * i)) & 0xff), 0x01000193);
  for (let i = 0; i < 8; i++) h = Math.imul(h ^ v.getUint8(e.o + startAt + i), 0x01000193);
  return h >>> 0;
}

const entity = <N extends string>(name: N, idAt: number, startAt: number) =>
  get(name, (e) => entityId(e, idAt, startAt), (e) => `${entityId(e, idAt, startAt)}`);

function unreadablePages(e: RecordRef): number[] {
  const missing = e.b.view.getUint32(e.o + CODE_MISSING_AT, true);
  const pages: number[] = [];
  for (let i = 0; i < 32; i++) if (missing & (1 << i)) pages.push(i);
  return pages;
}

/** A mem_prot_alert argument: Tracee's name and type, the value read as `value` says. */
const arg = <N extends string, T extends string, V extends Field>(name: N, type: T, value: V) =>
  object(name, [constant('name', name as string), constant('type', type as string), { ...value, name: 'value' as const }] as const);

/** The nine mem_prot_alert arguments, Tracee's order (event.ts MEM_PROT_ALERT_PARAMS). */
const ARGS = list('args', [
  arg('alert', 'u32', int('value', 'alert', { prop: 'alert', parsed: (v: number) => alertText(v) })),
  arg('addr', 'void*', u64('value', 'addr', { prop: 'addr', parsed: (v: bigint) => `0x${v.toString(16)}` })),
  arg('len', 'size_t', num64('value', 'len', { prop: 'len' })),
  arg('prot', 'int', int('value', 'prot', { prop: 'prot', parsed: (v: number) => protText(v) })),
  // Tracee's prev_prot: the low 32 bits of the VMA's vm_flags before the call
  arg('prev_prot', 'int', low32('value', 'prev_vm_flags', true, undefined, { prop: 'prevProtRaw', parsed: (v: number) => protText(v) })),
  arg('pathname', 'const char*', text('value', 'path', { prop: 'pathname', onlyIf: 'HAS_FILE' })),
  arg('dev', 'dev_t', int('value', 'dev', { prop: 'dev' })),
  arg('inode', 'unsigned long', u64('value', 'inode', { prop: 'inode' })),
  arg('ctime', 'u64', u64('value', 'ctime_ns', { prop: 'ctime' })),
] as const);

/** The code a change made executable, read in the kernel at the change (W→X, alias, blocked):
 * present when a window was captured. */
const CODE = optional(object(
  'code',
  [
    // SHA-256 (hex) of the bytes read, by the addon's drain thread; null when no byte was read.
    digest('sha256'),
    // where the window starts, and how many bytes it covers (readable or not)
    u64('addr', 'code_addr'),
    int('bytes', 'code_window'),
    // the region is larger than the window (captureBytes)
    flag('truncated', 'CODE_TRUNCATED'),
    // pages of the window that could not be read (not present; never hashed as zeros)
    get('unreadablePages', unreadablePages, (e) => `[${unreadablePages(e).join(',')}]`),
  ] as const,
  { prop: 'code' },
), (e) => e.b.view.getUint32(e.o + CODE_WINDOW_AT, true) !== 0);

const flagSet = (bit: number) => (e: RecordRef) => (e.b.view.getUint32(e.o + FLAGS_AT, true) & bit) !== 0;
const WRITE_EVENT = 1; // enum wx_event WX_EVENT_WRITE
const isWrite = (e: RecordRef) => e.b.view.getUint8(e.o + EVENT_AT) === WRITE_EVENT;

/** The other view of an executable alias (WXW-001). */
const ALIAS = optional(
  object(
    'alias',
    [
      // the first other view found covering the same file offsets, and its process (0: unknown)
      u64('start', 'alias_start'),
      u64('end', 'alias_end'),
      int('pid', 'alias_pid'),
      // the executable view came first; this finding is the writable view's creation
      flag('executableFirst', 'ALIAS_EXEC_FIRST'),
      // not every mapping of the file could be checked: reported, not exact
      flag('unsure', 'ALIAS_UNSURE'),
    ] as const,
    { prop: 'alias' },
  ),
  flagSet(FLAG.WRITABLE_ALIAS),
);

/** A write into memory that was executable in the target (WXW-002); the event's own process is
 * the writer. */
const WRITE = optional(
  object(
    'write',
    [
      enumOf('route', 'route', ROUTE_NAMES, 'remote'),
      // the process written into (host pid; 0 when the kernel does not say), its name, its exe
      int('targetPid', 'target_pid'),
      text('targetComm', 'target_comm'),
      text('targetExe', 'target_exe'),
      // where the bytes went, and how many (the call's range; see rangeUnsure)
      u64('addr', 'addr'),
      num64('len', 'len'),
      flag('crossProcess', 'CROSS_PROCESS'),
      // the writer is the target's ptrace tracer (a debugger's breakpoint is such a write)
      flag('tracer', 'TRACER'),
      // the range was read from the writer's memory or is not known: reported, not exact
      flag('rangeUnsure', 'RANGE_UNSURE'),
    ] as const,
    { prop: 'write' },
  ),
  isWrite,
);

/** A record that stands for `count` changes not written one by one, from `first` to `last`. */
const SUMMARY = optional(
  object('summary', [int('count', 'summary_count'), u64('first', 'vma_start'), u64('last', 'vma_end')] as const, { prop: 'summary' }),
  flagSet(FLAG.SUMMARY),
);

/** What wxwatch adds to Tracee's event; kept apart so Tracee's field set stays as it is. */
const WXWATCH = object('wxwatch', [
  // the VMA the alert is about, as it was before the call
  u64('vmaStart', 'vma_start'),
  u64('vmaEnd', 'vma_end'),
  // its protection before and after the call as PROT bits (Tracee's prev_prot is raw vm_flags)
  low32('prevProt', 'prev_vm_flags', false, 0x7),
  low32('newProt', 'new_vm_flags', false, 0x7),
  // not read exactly (a range of more VMAs than one snapshot holds): reported, flagged
  flag('prevProtUnknown', 'PREV_UNKNOWN'),
  // judged on the VMA's later state: on a preemptible kernel every copy of the program that sees
  // the change's outcome was skipped, and the process's next change judged it
  flag('outcomeLate', 'OUTCOME_LATE'),
  // reported before the change took effect (no state to carry it to its end): it may yet have
  // failed; counted in noState
  flag('outcomeUnknown', 'OUTCOME_UNKNOWN'),
  // EXEC was not asked for: the READ_IMPLIES_EXEC personality added it
  flag('readImpliesExec', 'READ_IMPLIES_EXEC'),
  // the file is also mapped shared and writable (writableMappings other mappings)
  flag('writableAlias', 'WRITABLE_ALIAS', { prop: 'writableAlias' }),
  int('writableMappings', 'writable_maps'),
  // refused by wxwatch's enforcement, and the rule that refused it
  flag('blocked', 'BLOCKED', { prop: 'blocked' }),
  optional(enumOf('rule', 'rule', RULE_NAMES, 'none'), flagSet(FLAG.BLOCKED)),
  // the memory was written since it was mapped (anon pages, or file pages copied on write)
  flag('written', 'WRITTEN', { prop: 'written' }),
  // from a file that lives only in memory: memfd, tmpfs, ramfs, hugetlbfs, or a deleted file
  flag('inMemoryFile', 'IN_MEMORY_FILE', { prop: 'inMemoryFile' }),
  ALIAS,
  WRITE,
  SUMMARY,
  CODE,
  // no code although it would have been captured: the capture budget was spent
  flag('codeSkipped', 'CODE_SKIPPED'),
  enumOf('region', 'region', REGION_NAMES, 'anonymous'),
  flag('fileDeleted', 'FILE_DELETED'),
  // the file's path lost leading components (deeper than 48 or longer than 4095 bytes)
  flag('pathTruncated', 'PATH_TRUNCATED'),
  flag('exeDeleted', 'EXE_DELETED'),
  flag('exeTruncated', 'EXE_TRUNCATED'),
  // the call failed (only with the denied event enabled)
  flag('denied', 'DENIED', { prop: 'denied' }),
  // the task's cgroup v2 node, "parent/leaf"
  text('cgroup', 'cgroup', { prop: 'cgroup' }),
] as const);

// What the functions below read, straight from the record (the getters are made from this list).
// (the cgroup is read for three fields in a row: the batch keeps the last one)
const cgroupOf = (e: RecordRef) => e.b.memo(e.o, 'cgroup', () => e.b.text.text(...tailSpan(e.b.view, e.o, 'cgroup')));
const deniedOf = (e: RecordRef) => (e.b.view.getUint32(e.o + FLAGS_AT, true) & DENIED) !== 0;
const eventKind = (e: RecordRef) => (isWrite(e) ? 'mem_write_alert' : deniedOf(e) ? 'mem_prot_denied' : 'mem_prot_alert');
const containerId = (e: RecordRef) => containerIdFromCgroup(cgroupOf(e));

/** Tracee's event fields in Tracee's order, then wxwatch's. */
export const EVENT_FIELDS = [
  epoch('timestamp', 'ts_boot_ns'),
  epoch('threadStartTime', 'thread_start_boot_ns'),
  int('processorId', 'cpu'),
  int('processId', 'ns_pid'),
  u64('cgroupId', 'cgroup_id'),
  int('threadId', 'ns_tid'),
  int('parentProcessId', 'ns_ppid'),
  int('hostProcessId', 'host_pid'),
  int('hostThreadId', 'host_tid'),
  int('hostParentProcessId', 'host_ppid'),
  int('userId', 'uid'),
  int('mountNamespace', 'mnt_ns'),
  int('pidNamespace', 'pid_ns'),
  text('processName', 'comm'),
  object('executable', [text('path', 'exe')] as const),
  text('hostName', 'uts'),
  get('containerId', containerId, (e) => jsonString(containerId(e))),
  // Tracee's container object: the id inside a container (name and image need the runtime's API)
  get(
    'container',
    (e): { id?: string; name?: string; image?: string; imageDigest?: string } => {
      const id = containerId(e);
      return id ? { id } : {};
    },
    (e) => (containerId(e) ? `{"id":${jsonString(containerId(e))}}` : '{}'),
  ),
  // the pod UID from the cgroup name; pod name and namespace need the API server
  get(
    'kubernetes',
    (e): { podName?: string; podNamespace?: string; podUID?: string; podSandbox?: boolean } => {
      const podUID = podUidFromCgroup(cgroupOf(e));
      return podUID ? { podUID } : {};
    },
    (e) => (podUidFromCgroup(cgroupOf(e)) ? `{"podUID":${jsonString(podUidFromCgroup(cgroupOf(e)))}}` : '{}'),
  ),
  get('eventId', (e): string => EVENT_IDS[eventKind(e)], (e) => `"${EVENT_IDS[eventKind(e)]}"`),
  get('eventName', (e): string => eventKind(e), (e) => `"${eventKind(e)}"`),
  constant('matchedPolicies', [] as string[]),
  constant('argsNum', MEM_PROT_ALERT_PARAMS.length as number),
  num64('returnValue', 'ret'),
  enumOf('syscall', 'syscall', SYSCALL_NAMES, 'unknown'),
  constant('stackAddresses', null as bigint[] | null),
  object('contextFlags', [constant('containerStarted', false as boolean), flag('isCompat', 'COMPAT')] as const),
  entity('threadEntityId', OFF.host_tid, OFF.thread_start_boot_ns),
  entity('processEntityId', OFF.host_pid, OFF.leader_start_boot_ns),
  entity('parentEntityId', OFF.host_ppid, OFF.parent_start_boot_ns),
  ARGS,
  WXWATCH,
] as const;

/** What signatures and outputs read of a record that is no field of its own in the JSON. */
export const RECORD_PROPS = [
  flag('hasFile', 'HAS_FILE'),
  // a write into executable memory (WXW-002), not a change of protection
  get('isWrite', isWrite),
  flag('isSummary', 'SUMMARY'),
  // protection before and after as raw vm_flags (low 32 bits: the signatures test them)
  low32('prevVmFlags', 'prev_vm_flags', false),
  low32('newVmFlags', 'new_vm_flags', false),
  // the enforcement rule that refused the change ('none' unless blocked)
  get('rule', (e): EnforcementRule => (flagSet(FLAG.BLOCKED)(e) ? (RULE_NAMES[e.b.view.getUint8(e.o + RULE_AT)] ?? 'none') : 'none')),
] as const;

/** An event's fields as values (64-bit ones bigint), and what entries below expose (`prop`). */
export type EventValues = Values<typeof EVENT_FIELDS>;
export type EventProps = AllProps<typeof EVENT_FIELDS> & Values<typeof RECORD_PROPS>;

/** Tracee's finding as wxwatch prints it (a detection event): the event's fields with the
 * signature's id and name, the event itself as args[0] "detectedFrom", the signature's metadata,
 * then wxwatch's extras and the signature's own fields. */
export function detectionFields(m: SignatureMetadata, extra: readonly Field[] = []): Field[] {
  const byName = new Map<string, Field>(EVENT_FIELDS.map((f) => [f.name, f]));
  const renamed = (name: string, as: string): Field => ({ ...byName.get(name)!, name: as, prop: undefined });
  const detectedFrom = object('detectedFrom', [
    constant('name', 'detectedFrom'),
    constant('type', 'unknown'),
    object('value', [
      get('id', (e) => Number(EVENT_IDS[eventKind(e)]), (e) => EVENT_IDS[eventKind(e)]),
      renamed('eventName', 'name'),
      renamed('args', 'args'),
      renamed('returnValue', 'returnValue'),
    ]),
  ]);
  const overrides: Record<string, Field> = {
    eventId: constant('eventId', EVENT_IDS[m.EventName as keyof typeof EVENT_IDS] ?? ''),
    eventName: constant('eventName', m.EventName),
    argsNum: constant('argsNum', 1),
    returnValue: constant('returnValue', 0),
    args: list('args', [detectedFrom]),
  };
  const metadata = constant('metadata', {
    Version: m.Version,
    Description: m.Description,
    Tags: m.Tags,
    Properties: { ...m.Properties, signatureID: m.ID, signatureName: m.Name },
  });
  const out: Field[] = [];
  for (const f of EVENT_FIELDS) {
    const field: Field = overrides[f.name] ?? { ...f, prop: undefined };
    if (f.name === 'wxwatch') out.push(metadata, extra.length ? { ...WXWATCH, fields: [...WXWATCH.fields, ...extra] } : field);
    else out.push(field);
  }
  return out;
}
