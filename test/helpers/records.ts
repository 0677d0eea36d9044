// Builds wx_record bytes by hand, and batches as the addon hands them over, for decoding tests
// that need no kernel.
import { createHash } from 'node:crypto';
import { DIGEST_BYTES } from '../../lib/batch-view';
import { FIXED_SIZE, OFF } from '../../lib/record-layout';

export interface RecordFields {
  alert?: number;
  addr?: bigint;
  len?: bigint;
  prot?: number;
  prevVmFlags?: bigint;
  newVmFlags?: bigint;
  vmaStart?: bigint;
  vmaEnd?: bigint;
  hostPid?: number;
  hostTid?: number;
  hostPpid?: number;
  nsPid?: number;
  nsTid?: number;
  nsPpid?: number;
  uid?: number;
  mntNs?: number;
  pidNs?: number;
  cpu?: number;
  dev?: number;
  cgroupId?: bigint;
  ctimeNs?: bigint;
  threadStartNs?: bigint;
  leaderStartNs?: bigint;
  parentStartNs?: bigint;
  writableMaps?: number;
  flags?: number;
  region?: number;
  syscall?: number;
  /** A string, or raw bytes (for names that are not valid UTF-8). */
  comm?: string | Uint8Array;
  uts?: string | Uint8Array;
  path?: string | Uint8Array;
  exe?: string | Uint8Array;
  cgroup?: string | Uint8Array;
  ret?: bigint;
  tsBootNs?: bigint;
  inode?: bigint;
  /** enum wx_event (1: a write), enum wx_route, enum wx_rule; write and alias targets. */
  event?: number;
  route?: number;
  rule?: number;
  targetPid?: number;
  targetComm?: string | Uint8Array;
  targetExe?: string | Uint8Array;
  targetStartNs?: bigint;
  aliasStart?: bigint;
  aliasEnd?: bigint;
  aliasPid?: number;
  summaryCount?: number;
  /** Captured code: the bytes read, the window's start and size, and its unreadable pages. */
  code?: Uint8Array;
  codeAddr?: bigint;
  codeWindow?: number;
  codeMissing?: number;
}

const bytesOf = (s: string | Uint8Array) => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));

/** One record, padded to 8 bytes, laid out as struct wx_record. */
export function record(f: RecordFields): Uint8Array {
  const uts = bytesOf(f.uts ?? 'host');
  const path = bytesOf(f.path ?? '');
  const exe = bytesOf(f.exe ?? '/usr/bin/true');
  const cgroup = bytesOf(f.cgroup ?? 'system.slice/ssh.service');
  const targetExe = bytesOf(f.targetExe ?? '');
  const code = f.code ?? new Uint8Array(0);
  const size = FIXED_SIZE + uts.length + path.length + exe.length + cgroup.length + targetExe.length + code.length;
  const bytes = new Uint8Array((size + 7) & ~7);
  const v = new DataView(bytes.buffer);
  v.setUint32(OFF.size, size, true);
  v.setUint32(OFF.alert, f.alert ?? 4, true);
  v.setBigUint64(OFF.ts_boot_ns, f.tsBootNs ?? 1_000_000_000n, true);
  v.setBigUint64(OFF.thread_start_boot_ns, f.threadStartNs ?? 0n, true);
  v.setBigUint64(OFF.addr, f.addr ?? 0x7f0000001000n, true);
  v.setBigUint64(OFF.len, f.len ?? 4096n, true);
  v.setBigUint64(OFF.vma_start, f.vmaStart ?? 0n, true);
  v.setBigUint64(OFF.vma_end, f.vmaEnd ?? 0n, true);
  v.setBigUint64(OFF.prev_vm_flags, f.prevVmFlags ?? 0x73n, true);
  v.setBigUint64(OFF.new_vm_flags, f.newVmFlags ?? 0n, true);
  v.setBigUint64(OFF.inode, f.inode ?? 0n, true);
  v.setBigUint64(OFF.ctime_ns, f.ctimeNs ?? 0n, true);
  v.setBigUint64(OFF.cgroup_id, f.cgroupId ?? 0n, true);
  v.setBigUint64(OFF.leader_start_boot_ns, f.leaderStartNs ?? 0n, true);
  v.setBigUint64(OFF.parent_start_boot_ns, f.parentStartNs ?? 0n, true);
  v.setBigInt64(OFF.ret, f.ret ?? 0n, true);
  v.setInt32(OFF.prot, f.prot ?? 5, true);
  v.setUint32(OFF.dev, f.dev ?? 0, true);
  v.setUint32(OFF.host_pid, f.hostPid ?? 1234, true);
  v.setUint32(OFF.host_tid, f.hostTid ?? 0, true);
  v.setUint32(OFF.host_ppid, f.hostPpid ?? 0, true);
  v.setUint32(OFF.ns_pid, f.nsPid ?? f.hostPid ?? 1234, true);
  v.setUint32(OFF.ns_tid, f.nsTid ?? 0, true);
  v.setUint32(OFF.ns_ppid, f.nsPpid ?? 0, true);
  v.setUint32(OFF.uid, f.uid ?? 0, true);
  v.setUint32(OFF.mnt_ns, f.mntNs ?? 0, true);
  v.setUint32(OFF.pid_ns, f.pidNs ?? 0, true);
  v.setUint32(OFF.cpu, f.cpu ?? 0, true);
  v.setUint16(OFF.syscall, f.syscall ?? 0, true);
  v.setUint8(OFF.region, f.region ?? 0);
  v.setUint32(OFF.flags, f.flags ?? 0, true);
  v.setInt32(OFF.writable_maps, f.writableMaps ?? 0, true);
  v.setUint16(OFF.uts_len, uts.length, true);
  v.setUint16(OFF.path_len, path.length, true);
  v.setUint16(OFF.exe_len, exe.length, true);
  v.setUint16(OFF.cgroup_len, cgroup.length, true);
  bytes.set(bytesOf(f.comm ?? 'wxfix').subarray(0, 15), OFF.comm);
  v.setUint32(OFF.code_len, code.length, true);
  v.setBigUint64(OFF.code_addr, f.codeAddr ?? 0n, true);
  v.setUint32(OFF.code_window, f.codeWindow ?? code.length, true);
  v.setUint32(OFF.code_missing, f.codeMissing ?? 0, true);
  v.setUint8(OFF.event, f.event ?? 0);
  v.setUint8(OFF.route, f.route ?? 0);
  v.setUint8(OFF.rule, f.rule ?? 0);
  v.setUint32(OFF.target_pid, f.targetPid ?? 0, true);
  v.setBigUint64(OFF.target_start_boot_ns, f.targetStartNs ?? 0n, true);
  v.setBigUint64(OFF.alias_start, f.aliasStart ?? 0n, true);
  v.setBigUint64(OFF.alias_end, f.aliasEnd ?? 0n, true);
  v.setUint32(OFF.alias_pid, f.aliasPid ?? 0, true);
  v.setUint32(OFF.summary_count, f.summaryCount ?? 0, true);
  v.setUint16(OFF.target_exe_len, targetExe.length, true);
  bytes.set(bytesOf(f.targetComm ?? '').subarray(0, 15), OFF.target_comm);
  let at = FIXED_SIZE;
  for (const part of [uts, path, exe, cgroup, targetExe, code]) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

/** The digest the drainer writes for a record: the SHA-256 of its code bytes in hex, or zeros
 * when it has none. */
function digestOf(rec: Uint8Array): Uint8Array {
  const v = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  const len = v.getUint32(OFF.code_len, true);
  if (!len) return new Uint8Array(DIGEST_BYTES);
  const size = v.getUint32(OFF.size, true);
  return Buffer.from(createHash('sha256').update(rec.subarray(size - len, size)).digest('hex'));
}

/** Records back to back, then a digest per record: a batch as the addon hands it over. */
export function batch(...records: Uint8Array[]): ArrayBuffer {
  const total = records.reduce((n, r) => n + r.length, 0);
  const out = new Uint8Array(total + DIGEST_BYTES * records.length);
  let at = 0;
  for (const r of records) {
    out.set(r, at);
    at += r.length;
  }
  for (const r of records) {
    out.set(digestOf(r), at);
    at += DIGEST_BYTES;
  }
  return out.buffer;
}
