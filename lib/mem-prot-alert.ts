// Decoding: a batch from the addon is records back to back (struct wx_record + strings). A
// MemProtAlert is a view of one record that reads each field when asked, so a finding that
// nobody looks at costs almost nothing; toJSON() materialises all of it.
import {
  AliasInfo,
  CodeEvidence,
  EVENT_IDS,
  ROUTE_NAMES,
  RULE_NAMES,
  SummaryInfo,
  WriteInfo,
  EventArg,
  MEM_PROT_ALERT_PARAMS,
  REGION_NAMES,
  RegionKind,
  SYSCALL_NAMES,
  TraceeEvent,
  WxwatchExtras,
} from './event';
import { createHash } from 'node:crypto';
import { containerIdFromCgroup, podUidFromCgroup } from './container';
import { jsonSafe } from './output/json-safe';
import { ALIGN, COMM_LEN, FIXED_SIZE, FLAG, OFF } from './record-layout';

const utf8 = new TextDecoder('utf-8');

/** One batch's memory and the clock offset to turn its boot-time stamps into epoch time. */
export class BatchView {
  readonly view: DataView;
  readonly bytes: Uint8Array;
  constructor(
    buffer: ArrayBuffer,
    readonly bootToEpochNs: bigint,
  ) {
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
  }
}

/** FNV-1a over a 32-bit id and the 8 little-endian bytes of a start time: an entity id. */
function entityId(id: number, bytes: Uint8Array, at: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 4; i++) h = Math.imul(h ^ ((id >>> (8 * i)) & 0xff), 0x01000193);
  for (let i = 0; i < 8; i++) h = Math.imul(h ^ bytes[at + i], 0x01000193);
  return h >>> 0;
}

export class MemProtAlert implements TraceeEvent {
  constructor(
    private readonly b: BatchView,
    private readonly o: number,
  ) {}

  private u16(field: number): number {
    return this.b.view.getUint16(this.o + field, true);
  }
  private u32(field: number): number {
    return this.b.view.getUint32(this.o + field, true);
  }
  private u64(field: number): bigint {
    return this.b.view.getBigUint64(this.o + field, true);
  }
  private text(at: number, len: number): string {
    return utf8.decode(this.b.bytes.subarray(this.o + at, this.o + at + len));
  }
  private get flags(): number {
    return this.u32(OFF.flags);
  }
  private flag(bit: number): boolean {
    return (this.flags & bit) !== 0;
  }

  // --- the record's own fields, typed ---
  get alert(): number {
    return this.u32(OFF.alert);
  }
  get addr(): bigint {
    return this.u64(OFF.addr);
  }
  get len(): number {
    return Number(this.u64(OFF.len));
  }
  get prot(): number {
    return this.b.view.getInt32(this.o + OFF.prot, true);
  }
  /** Tracee's prev_prot: the low 32 bits of the VMA's vm_flags before the call. */
  get prevProtRaw(): number {
    return this.b.view.getInt32(this.o + OFF.prev_vm_flags, true);
  }
  get hasFile(): boolean {
    return this.flag(FLAG.HAS_FILE);
  }
  get pathname(): string {
    return this.text(FIXED_SIZE + this.u16(OFF.uts_len), this.u16(OFF.path_len));
  }
  get dev(): number {
    return this.u32(OFF.dev);
  }
  get inode(): bigint {
    return this.u64(OFF.inode);
  }
  get ctime(): bigint {
    return this.u64(OFF.ctime_ns);
  }
  /** The file is also mapped shared and writable (cheap: the signatures test it per record). */
  get writableAlias(): boolean {
    return this.flag(FLAG.WRITABLE_ALIAS);
  }
  get denied(): boolean {
    return this.flag(FLAG.DENIED);
  }
  /** A write into executable memory (WXW-002), not a change of protection. */
  get isWrite(): boolean {
    return this.b.view.getUint8(this.o + OFF.event) === 1;
  }
  get blocked(): boolean {
    return this.flag(FLAG.BLOCKED);
  }
  get written(): boolean {
    return this.flag(FLAG.WRITTEN);
  }
  get inMemoryFile(): boolean {
    return this.flag(FLAG.IN_MEMORY_FILE);
  }
  get isSummary(): boolean {
    return this.flag(FLAG.SUMMARY);
  }
  /** Protection before and after, as raw vm_flags (cheap: the signatures test them). */
  get prevVmFlags(): number {
    return this.b.view.getUint32(this.o + OFF.prev_vm_flags, true);
  }
  get newVmFlags(): number {
    return this.b.view.getUint32(this.o + OFF.new_vm_flags, true);
  }

  // --- Tracee's event fields ---
  get timestamp(): bigint {
    return this.u64(OFF.ts_boot_ns) + this.b.bootToEpochNs;
  }
  get threadStartTime(): bigint {
    return this.u64(OFF.thread_start_boot_ns) + this.b.bootToEpochNs;
  }
  get processorId(): number {
    return this.u32(OFF.cpu);
  }
  get processId(): number {
    return this.u32(OFF.ns_pid);
  }
  get cgroupId(): bigint {
    return this.u64(OFF.cgroup_id);
  }
  get threadId(): number {
    return this.u32(OFF.ns_tid);
  }
  get parentProcessId(): number {
    return this.u32(OFF.ns_ppid);
  }
  get hostProcessId(): number {
    return this.u32(OFF.host_pid);
  }
  get hostThreadId(): number {
    return this.u32(OFF.host_tid);
  }
  get hostParentProcessId(): number {
    return this.u32(OFF.host_ppid);
  }
  get userId(): number {
    return this.u32(OFF.uid);
  }
  get mountNamespace(): number {
    return this.u32(OFF.mnt_ns);
  }
  get pidNamespace(): number {
    return this.u32(OFF.pid_ns);
  }
  get processName(): string {
    const start = this.o + OFF.comm;
    const comm = this.b.bytes.subarray(start, start + COMM_LEN);
    const nul = comm.indexOf(0);
    return utf8.decode(nul < 0 ? comm : comm.subarray(0, nul));
  }
  get executable(): { path: string } {
    const at = FIXED_SIZE + this.u16(OFF.uts_len) + this.u16(OFF.path_len);
    return { path: this.text(at, this.u16(OFF.exe_len)) };
  }
  get hostName(): string {
    return this.text(FIXED_SIZE, this.u16(OFF.uts_len));
  }
  /** The task's cgroup v2 node as "parent/leaf", captured in the kernel at the call. */
  get cgroup(): string {
    const at = FIXED_SIZE + this.u16(OFF.uts_len) + this.u16(OFF.path_len) + this.u16(OFF.exe_len);
    return this.text(at, this.u16(OFF.cgroup_len));
  }
  get containerId(): string {
    return containerIdFromCgroup(this.cgroup);
  }
  /** Tracee's container object: empty on the host; the id inside a container (name and image
   * need the runtime's API, which the sensor does not query). */
  get container(): TraceeEvent['container'] {
    const id = this.containerId;
    return id ? { id } : {};
  }
  /** The pod UID from the cgroup name; pod name and namespace need the API server. */
  get kubernetes(): TraceeEvent['kubernetes'] {
    const podUID = podUidFromCgroup(this.cgroup);
    return podUID ? { podUID } : {};
  }
  get eventId(): string {
    return this.isWrite ? EVENT_IDS.mem_write_alert : this.denied ? EVENT_IDS.mem_prot_denied : EVENT_IDS.mem_prot_alert;
  }
  get eventName(): string {
    return this.isWrite ? 'mem_write_alert' : this.denied ? 'mem_prot_denied' : 'mem_prot_alert';
  }
  get matchedPolicies(): string[] {
    return [];
  }
  get argsNum(): number {
    return MEM_PROT_ALERT_PARAMS.length;
  }
  get returnValue(): number {
    return Number(this.b.view.getBigInt64(this.o + OFF.ret, true));
  }
  get syscall(): string {
    return SYSCALL_NAMES[this.u16(OFF.syscall)] ?? 'unknown';
  }
  get stackAddresses(): null {
    return null;
  }
  get contextFlags(): TraceeEvent['contextFlags'] {
    return { containerStarted: false, isCompat: this.flag(FLAG.COMPAT) };
  }
  get threadEntityId(): number {
    return entityId(this.hostThreadId, this.b.bytes, this.o + OFF.thread_start_boot_ns);
  }
  get processEntityId(): number {
    return entityId(this.hostProcessId, this.b.bytes, this.o + OFF.leader_start_boot_ns);
  }
  get parentEntityId(): number {
    return entityId(this.hostParentProcessId, this.b.bytes, this.o + OFF.parent_start_boot_ns);
  }
  /** The nine mem_prot_alert arguments with raw values, as Tracee emits them. */
  get args(): EventArg[] {
    const values: unknown[] = [
      this.alert,
      this.addr,
      this.len,
      this.prot,
      this.prevProtRaw,
      this.hasFile ? this.pathname : '',
      this.dev,
      this.inode,
      this.ctime,
    ];
    return MEM_PROT_ALERT_PARAMS.map((p, i) => ({ name: p.name, type: p.type, value: values[i] }));
  }

  // --- beyond Tracee ---
  private get targetExeAt(): number {
    return FIXED_SIZE + this.u16(OFF.uts_len) + this.u16(OFF.path_len) + this.u16(OFF.exe_len) + this.u16(OFF.cgroup_len);
  }
  /** The captured code bytes (a view of the batch, not a copy), or an empty array. */
  get codeBytes(): Uint8Array {
    const at = this.targetExeAt + this.u16(OFF.target_exe_len);
    return this.b.bytes.subarray(this.o + at, this.o + at + this.u32(OFF.code_len));
  }

  get write(): WriteInfo | undefined {
    if (!this.isWrite) return undefined;
    const start = this.o + OFF.target_comm;
    const comm = this.b.bytes.subarray(start, start + COMM_LEN);
    const nul = comm.indexOf(0);
    return {
      route: ROUTE_NAMES[this.b.view.getUint8(this.o + OFF.route)] ?? 'remote',
      targetPid: this.u32(OFF.target_pid),
      targetComm: utf8.decode(nul < 0 ? comm : comm.subarray(0, nul)),
      targetExe: this.text(this.targetExeAt, this.u16(OFF.target_exe_len)),
      addr: this.addr,
      len: this.len,
      crossProcess: this.flag(FLAG.CROSS_PROCESS),
      tracer: this.flag(FLAG.TRACER),
      rangeUnsure: this.flag(FLAG.RANGE_UNSURE),
    };
  }

  get alias(): AliasInfo | undefined {
    if (!this.writableAlias) return undefined;
    return {
      start: this.u64(OFF.alias_start),
      end: this.u64(OFF.alias_end),
      pid: this.u32(OFF.alias_pid),
      executableFirst: this.flag(FLAG.ALIAS_EXEC_FIRST),
      unsure: this.flag(FLAG.ALIAS_UNSURE),
    };
  }

  get summary(): SummaryInfo | undefined {
    if (!this.isSummary) return undefined;
    return { count: this.u32(OFF.summary_count), first: this.u64(OFF.vma_start), last: this.u64(OFF.vma_end) };
  }

  get code(): CodeEvidence | undefined {
    const window = this.u32(OFF.code_window);
    if (!window) return undefined;
    const missing = this.u32(OFF.code_missing);
    const unreadablePages: number[] = [];
    for (let i = 0; i < 32; i++) if (missing & (1 << i)) unreadablePages.push(i);
    return {
      sha256: createHash('sha256').update(this.codeBytes).digest('hex'),
      addr: this.u64(OFF.code_addr),
      bytes: window,
      truncated: this.flag(FLAG.CODE_TRUNCATED),
      unreadablePages,
    };
  }

  get wxwatch(): WxwatchExtras {
    return {
      vmaStart: this.u64(OFF.vma_start),
      vmaEnd: this.u64(OFF.vma_end),
      prevProt: Number(this.u64(OFF.prev_vm_flags) & 0x7n),
      newProt: Number(this.u64(OFF.new_vm_flags) & 0x7n),
      prevProtUnknown: this.flag(FLAG.PREV_UNKNOWN),
      outcomeLate: this.flag(FLAG.OUTCOME_LATE),
      readImpliesExec: this.flag(FLAG.READ_IMPLIES_EXEC),
      writableAlias: this.flag(FLAG.WRITABLE_ALIAS),
      writableMappings: this.b.view.getInt32(this.o + OFF.writable_maps, true),
      blocked: this.blocked,
      ...(this.blocked ? { rule: RULE_NAMES[this.b.view.getUint8(this.o + OFF.rule)] ?? 'none' } : {}),
      written: this.written,
      inMemoryFile: this.inMemoryFile,
      ...(this.writableAlias ? { alias: this.alias } : {}),
      ...(this.isWrite ? { write: this.write } : {}),
      ...(this.isSummary ? { summary: this.summary } : {}),
      code: this.code,
      codeSkipped: this.flag(FLAG.CODE_SKIPPED),
      region: (REGION_NAMES[this.b.view.getUint8(this.o + OFF.region)] ?? 'anonymous') as RegionKind,
      fileDeleted: this.flag(FLAG.FILE_DELETED),
      pathTruncated: this.flag(FLAG.PATH_TRUNCATED),
      exeDeleted: this.flag(FLAG.EXE_DELETED),
      exeTruncated: this.flag(FLAG.EXE_TRUNCATED),
      denied: this.denied,
      cgroup: this.cgroup,
    };
  }

  /** For JSON.stringify: toObject() with 64-bit values as numbers when exact, else strings. */
  toJSON(): unknown {
    return jsonSafe(this.toObject());
  }

  /** All fields as a plain object, Tracee's order, then wxwatch's extras; 64-bit values bigint. */
  toObject(): TraceeEvent & { wxwatch: WxwatchExtras } {
    return {
      timestamp: this.timestamp,
      threadStartTime: this.threadStartTime,
      processorId: this.processorId,
      processId: this.processId,
      cgroupId: this.cgroupId,
      threadId: this.threadId,
      parentProcessId: this.parentProcessId,
      hostProcessId: this.hostProcessId,
      hostThreadId: this.hostThreadId,
      hostParentProcessId: this.hostParentProcessId,
      userId: this.userId,
      mountNamespace: this.mountNamespace,
      pidNamespace: this.pidNamespace,
      processName: this.processName,
      executable: this.executable,
      hostName: this.hostName,
      containerId: this.containerId,
      container: this.container,
      kubernetes: this.kubernetes,
      eventId: this.eventId,
      eventName: this.eventName,
      matchedPolicies: this.matchedPolicies,
      argsNum: this.argsNum,
      returnValue: this.returnValue,
      syscall: this.syscall,
      stackAddresses: this.stackAddresses,
      contextFlags: this.contextFlags,
      threadEntityId: this.threadEntityId,
      processEntityId: this.processEntityId,
      parentEntityId: this.parentEntityId,
      args: this.args,
      wxwatch: this.wxwatch,
    };
  }
}

/** Splits a batch into one MemProtAlert per record. */
export function decodeBatch(buffer: ArrayBuffer, records: number, bootToEpochNs: bigint): MemProtAlert[] {
  const batch = new BatchView(buffer, bootToEpochNs);
  const out = new Array<MemProtAlert>(records);
  let offset = 0;
  for (let i = 0; i < records; i++) {
    const size = batch.view.getUint32(offset + OFF.size, true);
    if (size < FIXED_SIZE || offset + size > buffer.byteLength) {
      throw new RangeError(`wxwatch: corrupt batch: record ${i} at ${offset} has size ${size}`);
    }
    out[i] = new MemProtAlert(batch, offset);
    offset += (size + ALIGN - 1) & ~(ALIGN - 1);
  }
  return out;
}
