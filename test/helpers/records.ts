// Builds wx_record bytes by hand, for decoding tests that need no kernel.
import { FIXED_SIZE, OFF } from '../../lib/record-layout';

export interface RecordFields {
  alert?: number;
  addr?: bigint;
  len?: bigint;
  prot?: number;
  prevVmFlags?: bigint;
  hostPid?: number;
  nsPid?: number;
  flags?: number;
  region?: number;
  syscall?: number;
  comm?: string;
  uts?: string;
  path?: string;
  exe?: string;
  cgroup?: string;
  ret?: bigint;
  tsBootNs?: bigint;
  inode?: bigint;
  /** Captured code: its bytes, and the window they were read from (default their length). */
  code?: Uint8Array;
  codeWindow?: number;
  codeMissing?: number;
}

/** One record, padded to 8 bytes, laid out as struct wx_record. */
export function record(f: RecordFields): Uint8Array {
  const uts = Buffer.from(f.uts ?? 'host');
  const path = Buffer.from(f.path ?? '');
  const exe = Buffer.from(f.exe ?? '/usr/bin/true');
  const cgroup = Buffer.from(f.cgroup ?? 'system.slice/ssh.service');
  const code = f.code ?? new Uint8Array(0);
  const strings = FIXED_SIZE + uts.length + path.length + exe.length + cgroup.length;
  const size = strings + code.length;
  const bytes = new Uint8Array((size + 7) & ~7);
  const v = new DataView(bytes.buffer);
  v.setUint32(OFF.size, size, true);
  v.setUint32(OFF.alert, f.alert ?? 4, true);
  v.setBigUint64(OFF.ts_boot_ns, f.tsBootNs ?? 1_000_000_000n, true);
  v.setBigUint64(OFF.addr, f.addr ?? 0x7f0000001000n, true);
  v.setBigUint64(OFF.len, f.len ?? 4096n, true);
  v.setBigUint64(OFF.prev_vm_flags, f.prevVmFlags ?? 0x73n, true);
  v.setBigUint64(OFF.inode, f.inode ?? 0n, true);
  v.setBigInt64(OFF.ret, f.ret ?? 0n, true);
  v.setInt32(OFF.prot, f.prot ?? 5, true);
  v.setUint32(OFF.host_pid, f.hostPid ?? 1234, true);
  v.setUint32(OFF.ns_pid, f.nsPid ?? f.hostPid ?? 1234, true);
  v.setUint16(OFF.syscall, f.syscall ?? 0, true);
  v.setUint8(OFF.region, f.region ?? 0);
  v.setUint32(OFF.flags, f.flags ?? 0, true);
  v.setUint16(OFF.uts_len, uts.length, true);
  v.setUint16(OFF.path_len, path.length, true);
  v.setUint16(OFF.exe_len, exe.length, true);
  v.setUint16(OFF.cgroup_len, cgroup.length, true);
  bytes.set(Buffer.from((f.comm ?? 'wxfix').slice(0, 15)), OFF.comm);
  bytes.set(uts, FIXED_SIZE);
  bytes.set(path, FIXED_SIZE + uts.length);
  bytes.set(exe, FIXED_SIZE + uts.length + path.length);
  bytes.set(cgroup, FIXED_SIZE + uts.length + path.length + exe.length);
  bytes.set(code, strings);
  v.setUint32(OFF.code_len, code.length, true);
  v.setUint32(OFF.code_window, f.codeWindow ?? code.length, true);
  v.setUint32(OFF.code_missing, f.codeMissing ?? 0, true);
  return bytes;
}

/** Records back to back, as the addon hands them over. */
export function batch(...records: Uint8Array[]): ArrayBuffer {
  const total = records.reduce((n, r) => n + r.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const r of records) {
    out.set(r, at);
    at += r.length;
  }
  return out.buffer;
}
