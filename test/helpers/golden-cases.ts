// Records whose detection JSON was written by the generic serialiser that the generated writers
// replaced (test/fixtures/golden/*.json, made once with it by write-golden.ts): the generated
// ones must match byte for byte. After an intended change of shape, run write-golden.ts again
// and review the diff.
import { Detection } from '../../lib/finding';
import { decodeBatch } from '../../lib/mem-prot-alert';
import { ByteSink } from '../../lib/byte-writer';
import { detectionJson, detectionJsonInto, eventJsonInto, toJson } from '../../lib/output/json';
import { FLAG } from '../../lib/record-layout';
import { signatureById } from '../../lib/signatures';
import { batch, record, RecordFields } from './records';

const F = FLAG;

export interface GoldenCase {
  name: string;
  fields: RecordFields;
  /** A signature's ID for a finding; 'event' for the event's own JSON (--alerts lines). */
  as: 'TRC-104' | 'WXW-001' | 'WXW-002' | 'WXW-003' | 'WXW-004' | 'WXW-005' | 'event';
  parseArguments?: boolean;
}

const code = new Uint8Array(4096 + 100);
code.set([0x55, 0x48, 0x89, 0xe5, 0xc3]);

const rich: RecordFields = {
  alert: 4,
  tsBootNs: 123_456_789_012_345n,
  threadStartNs: 98_765_432_101n,
  leaderStartNs: 98_000_000_000n,
  parentStartNs: 1_000_000n,
  addr: 0x7fff_ffff_f000_1001n,
  len: 12288n,
  vmaStart: 0x7fff_ffff_f000_0000n,
  vmaEnd: 0x7fff_ffff_f000_3000n,
  prevVmFlags: 0x1000_0073n,
  newVmFlags: 0x75n,
  prot: 5,
  hostPid: 4_000_000,
  hostTid: 4_000_001,
  hostPpid: 1,
  nsPid: 7,
  nsTid: 8,
  nsPpid: 0,
  uid: 4_294_967_294,
  mntNs: 4_026_531_841,
  pidNs: 4_026_531_836,
  cpu: 1,
  dev: (8 << 20) | 1,
  inode: 0xffff_ffff_ffff_fffen,
  ctimeNs: 1_700_000_000_123_456_789n,
  cgroupId: 0x1_0000_0001n,
  writableMaps: 2,
  flags: F.HAS_FILE | F.FILE_DELETED | F.COMPAT | F.WRITABLE_ALIAS | F.READ_IMPLIES_EXEC | F.PATH_TRUNCATED | F.CODE_TRUNCATED,
  region: 4,
  syscall: 1,
  comm: 'java',
  uts: 'node-1.example',
  path: '/memfd:jit (deleted)',
  exe: '/usr/lib/jvm/java-17/bin/java',
  cgroup: 'kubepods-besteffort-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope',
  code,
  codeAddr: 0x7fff_ffff_f000_0000n,
  codeWindow: 12288,
  codeMissing: 0b010,
};

export const GOLDEN_CASES: GoldenCase[] = [
  { name: 'default', fields: {}, as: 'TRC-104' },
  { name: 'rich', fields: rich, as: 'TRC-104' },
  { name: 'rich-parsed', fields: rich, as: 'TRC-104', parseArguments: true },
  {
    name: 'alias',
    fields: {
      ...rich,
      alert: 0,
      flags: F.HAS_FILE | F.WRITABLE_ALIAS | F.BLOCKED | F.EXE_DELETED | F.EXE_TRUNCATED | F.ALIAS_EXEC_FIRST | F.ALIAS_UNSURE | F.IN_MEMORY_FILE,
      rule: 3,
      aliasStart: 0x7f00_0000_0000n,
      aliasEnd: 0x7f00_0000_4000n,
      aliasPid: 4242,
    },
    as: 'WXW-001',
  },
  {
    name: 'write',
    fields: {
      ...rich,
      alert: 0,
      event: 1,
      route: 1,
      syscall: 11,
      flags: F.CROSS_PROCESS | F.RANGE_UNSURE | F.BLOCKED,
      rule: 5,
      targetPid: 31337,
      targetComm: 'victim',
      targetExe: '/usr/sbin/victim',
      targetStartNs: 5_000_000n,
    },
    as: 'WXW-002',
  },
  { name: 'written', fields: { ...rich, alert: 2, flags: F.WRITTEN | F.SUMMARY, summaryCount: 9000, prevVmFlags: 0x71n, newVmFlags: 0x75n }, as: 'WXW-003' },
  { name: 'in-memory', fields: { ...rich, alert: 2, flags: F.HAS_FILE | F.IN_MEMORY_FILE, prevVmFlags: 0x71n, newVmFlags: 0x75n }, as: 'WXW-004' },
  { name: 'rwx', fields: { ...rich, alert: 1, flags: F.BLOCKED, rule: 99, syscall: 2, prevVmFlags: 0n, newVmFlags: 0x77n }, as: 'WXW-005' },
  { name: 'write-event', fields: { ...rich, alert: 0, event: 1, route: 77, flags: F.TRACER, targetComm: 'gdb\u001b', targetExe: '/usr/bin/x' }, as: 'event' },
  { name: 'escapes', fields: { comm: 'a\u001b[2J\u009bb', exe: '/x\u2028y\u202e"q"', uts: 'h\u0000\u007f', cgroup: 'docker/\u2066x' }, as: 'TRC-104' },
  { name: 'event', fields: { ...rich, alert: 2 }, as: 'event' },
  { name: 'denied', fields: { flags: F.DENIED | F.PREV_UNKNOWN | F.CODE_SKIPPED, ret: -13n, syscall: 6, region: 2 }, as: 'event' },
];

/** The two lines a case is pinned by: the writer's JSON, then JSON.stringify's. */
export function goldenText(c: GoldenCase): string {
  const [e] = decodeBatch(batch(record(c.fields)), 1, 1_764_000_000_000_000_000n);
  if (c.as === 'event') return `${toJson(e)}\n${JSON.stringify(e)}\n`;
  const f = new Detection(signatureById(c.as)!.metadata, e);
  return `${detectionJson(f, { parseArguments: c.parseArguments === true })}\n${JSON.stringify(f)}\n`;
}

/** The same case through the byte writer (the CLI's path): its first line. */
export function goldenBytes(c: GoldenCase): string {
  const [e] = decodeBatch(batch(record(c.fields)), 1, 1_764_000_000_000_000_000n);
  const sink = new ByteSink(16); // small: the writer must grow it
  if (c.as === 'event') eventJsonInto(e, sink);
  else detectionJsonInto(new Detection(signatureById(c.as)!.metadata, e), sink, { parseArguments: c.parseArguments === true });
  return sink.buf.subarray(0, sink.at).toString();
}
