// Allowlists (processes to ignore) and scopes (the only processes to watch), encoded for the
// kernel's filter maps (bpf/wxwatch.h, enum wx_filter_kind). Paths are resolved here, once:
// the kernel matches an executable by device and inode, a cgroup by its id.
import { statSync } from 'node:fs';

export interface ProcessSelector {
  /** Process ids (thread group ids, as on the host). */
  pids?: number[];
  uids?: number[];
  /** Process names (comm), at most 15 bytes. */
  comms?: string[];
  /** cgroup v2 directories (e.g. /sys/fs/cgroup/system.slice/x.service) or cgroup ids; a
   * cgroup covers everything nested under it. */
  cgroups?: Array<string | bigint | number>;
  /** Executable paths; matched by the file they name now (device and inode). */
  exes?: string[];
}

export const FILTER_KIND = { pid: 0, uid: 1, comm: 2, cgroup: 3, exe: 4 } as const;
const ACT_IGNORE = 1;
const ACT_WATCH = 2;
const COMM_LEN = 16;
const MAX_ENTRIES = 4096;
const SELECTOR_KEYS = new Set(['pids', 'uids', 'comms', 'cgroups', 'exes']);

export interface NativeFilterSet {
  kind: number;
  keys: Uint8Array;
  actions: Uint8Array;
}

export interface NativeFilterConfig {
  activeMask: number;
  scopeMask: number;
}

type Key = Uint8Array;

function list<T>(what: string, value: unknown, check: (x: unknown) => x is T): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError(`wxwatch: ${what} must be an array`);
  for (const x of value) if (!check(x)) throw new TypeError(`wxwatch: ${what}: invalid entry ${String(x)}`);
  if (value.length > MAX_ENTRIES) throw new RangeError(`wxwatch: ${what}: at most ${MAX_ENTRIES} entries`);
  return value as T[];
}

const isU32 = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xffffffff;

function u32Key(v: number): Key {
  const k = new Uint8Array(4);
  new DataView(k.buffer).setUint32(0, v, true);
  return k;
}

function u64Key(v: bigint): Key {
  const k = new Uint8Array(8);
  new DataView(k.buffer).setBigUint64(0, v, true);
  return k;
}

function commKey(name: string): Key {
  const bytes = Buffer.from(name);
  if (bytes.length === 0 || bytes.length >= COMM_LEN) {
    throw new RangeError(`wxwatch: comms: "${name}" must be 1 to ${COMM_LEN - 1} bytes (the kernel's comm length)`);
  }
  const k = new Uint8Array(COMM_LEN);
  k.set(bytes);
  return k;
}

/** The kernel's dev_t (major << 20 | minor) from the one stat() returns (glibc's encoding). */
export function kernelDev(stDev: bigint | number): number {
  const dev = BigInt(stDev);
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return Number(((major << 20n) | minor) & 0xffffffffn);
}

function statOf(what: string, path: string) {
  try {
    return statSync(path, { bigint: true });
  } catch (err) {
    throw new Error(`wxwatch: ${what}: cannot resolve ${path}: ${(err as Error).message}`);
  }
}

function exeKey(path: string): Key {
  const st = statOf('exes', path);
  const k = new Uint8Array(16);
  const v = new DataView(k.buffer);
  v.setUint32(0, kernelDev(st.dev), true);
  v.setBigUint64(8, st.ino, true);
  return k;
}

function cgroupKey(c: string | bigint | number): Key {
  if (typeof c === 'string') return u64Key(statOf('cgroups', c).ino); // cgroup v2 id = inode number
  if (typeof c === 'number' && !Number.isSafeInteger(c)) throw new TypeError(`wxwatch: cgroups: invalid id ${c}`);
  return u64Key(BigInt(c));
}

function keysOf(selector: ProcessSelector | undefined, what: string): Map<number, Key[]> {
  const s = selector ?? {};
  if (typeof s !== 'object' || s === null) throw new TypeError(`wxwatch: ${what} must be an object`);
  for (const key of Object.keys(s)) {
    if (!SELECTOR_KEYS.has(key)) throw new TypeError(`wxwatch: ${what}: unknown field "${key}" (known: ${[...SELECTOR_KEYS].join(', ')})`);
  }
  const isString = (x: unknown): x is string => typeof x === 'string';
  const isCgroup = (x: unknown): x is string | bigint | number =>
    typeof x === 'string' || typeof x === 'bigint' || Number.isInteger(x);
  return new Map<number, Key[]>([
    [FILTER_KIND.pid, list(`${what}.pids`, s.pids, isU32).map(u32Key)],
    [FILTER_KIND.uid, list(`${what}.uids`, s.uids, isU32).map(u32Key)],
    [FILTER_KIND.comm, list(`${what}.comms`, s.comms, isString).map(commKey)],
    [FILTER_KIND.cgroup, list(`${what}.cgroups`, s.cgroups, isCgroup).map(cgroupKey)],
    [FILTER_KIND.exe, list(`${what}.exes`, s.exes, isString).map(exeKey)],
  ]);
}

/**
 * Every kind's full map content and the config: allowlisted keys are IGNORE (they win over a
 * scope listing the same key); a kind with scope entries becomes a scope.
 */
export function encodeFilters(
  allow: ProcessSelector | undefined,
  scope: ProcessSelector | undefined,
): { sets: NativeFilterSet[]; config: NativeFilterConfig } {
  const ignore = keysOf(allow, 'allow');
  const watch = keysOf(scope, 'scope');
  const sets: NativeFilterSet[] = [];
  const config = { activeMask: 0, scopeMask: 0 };
  for (const kind of Object.values(FILTER_KIND)) {
    const entries = new Map<string, number>();
    for (const k of watch.get(kind)!) entries.set(Buffer.from(k).toString('hex'), ACT_WATCH);
    for (const k of ignore.get(kind)!) entries.set(Buffer.from(k).toString('hex'), ACT_IGNORE);
    if (watch.get(kind)!.length) config.scopeMask |= 1 << kind;
    if (entries.size) config.activeMask |= 1 << kind;
    const keys = Buffer.concat([...entries.keys()].map((hex) => Buffer.from(hex, 'hex')));
    sets.push({ kind, keys: new Uint8Array(keys), actions: Uint8Array.from(entries.values()) });
  }
  return { sets, config };
}
