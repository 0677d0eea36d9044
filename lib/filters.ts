// Allowlists (processes to ignore) and scopes (the only processes to watch), encoded for the
// kernel's filter maps (bpf/wxwatch.h, enum wx_filter_kind). Paths are resolved here, once:
// the kernel matches an executable by device and inode, a cgroup by its id.
import { FILTER_KIND as WIRE_FILTER, WX } from './wire';
import { statfsSync, statSync } from 'node:fs';
import { cgroupLevel, superblockDev } from './mounts';

export interface ProcessSelector {
  /** Process ids (thread group ids, as on the host), 1 to 4194304. */
  pids?: number[];
  /** 0 to 4294967294 (-1 is no uid). */
  uids?: number[];
  /** Process names (comm), 1 to 15 bytes, no NUL. */
  comms?: string[];
  /** cgroup v2 directories (a directory under a cgroup2 mount, e.g.
   * /sys/fs/cgroup/system.slice/x.service) or cgroup ids; a cgroup covers everything nested
   * under it. */
  cgroups?: Array<string | bigint | number>;
  /** Paths of executable regular files; matched by the file they name now (device, inode). */
  exes?: string[];
}

export const FILTER_KIND = {
  pid: WIRE_FILTER.PID,
  uid: WIRE_FILTER.UID,
  comm: WIRE_FILTER.COMM,
  cgroup: WIRE_FILTER.CGROUP,
  exe: WIRE_FILTER.EXE,
} as const;
const KIND_FIELD: Record<number, string> = {
  [FILTER_KIND.pid]: 'pids',
  [FILTER_KIND.uid]: 'uids',
  [FILTER_KIND.comm]: 'comms',
  [FILTER_KIND.cgroup]: 'cgroups',
  [FILTER_KIND.exe]: 'exes',
};
const ACT_IGNORE = WX.WX_ACT_IGNORE;
const ACT_WATCH = WX.WX_ACT_WATCH;
const COMM_LEN = WX.WX_COMM_LEN;
const MAX_ENTRIES = WX.WX_FILTER_MAX_ENTRIES;
// The kernel matches a task's cgroup and its ancestors at levels 0 to this - 1 (the root is 0).
const CGROUP_MAX_DEPTH = WX.WX_CGROUP_MAX_DEPTH;
const SELECTOR_KEYS = new Set(['pids', 'uids', 'comms', 'cgroups', 'exes']);
const PID_MAX_LIMIT = 4194304; // the kernel's ceiling for pid_max
const CGROUP2_SUPER_MAGIC = 0x63677270;

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

// Entries of the wrong type are a TypeError; of the right type but out of range, a RangeError.
function list<T>(what: string, value: unknown, check: (x: unknown) => x is T, rule: string, type: (x: unknown) => boolean): T[] {
  if (value === undefined) return [];
  // A string where a list belongs is refused, never read as a list of its letters.
  if (!Array.isArray(value)) throw new TypeError(`wxwatch: ${what} must be an array of ${rule}, got ${describe(value)}`);
  if (value.length > MAX_ENTRIES) throw new RangeError(`wxwatch: ${what}: at most ${MAX_ENTRIES} entries`);
  for (const x of value) {
    if (check(x)) continue;
    const message = `wxwatch: ${what}: invalid entry ${describe(x)} (expected ${rule})`;
    throw type(x) ? new RangeError(message) : new TypeError(message);
  }
  return [...value] as T[];
}

function describe(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x);
  if (typeof x === 'bigint') return `${x}n`;
  if (Array.isArray(x)) return 'an array';
  return x === null || typeof x !== 'object' ? String(x) : 'an object';
}

const isPid = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 1 && (x as number) <= PID_MAX_LIMIT;
const isUid = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0 && (x as number) < 0xffffffff;
const isComm = (x: unknown): x is string =>
  typeof x === 'string' && !x.includes('\0') && Buffer.byteLength(x) >= 1 && Buffer.byteLength(x) < COMM_LEN;
const isPath = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && !x.includes('\0');
const isNumber = (x: unknown) => typeof x === 'number';
const isString = (x: unknown) => typeof x === 'string';
const isCgroup = (x: unknown): x is string | bigint | number =>
  isPath(x) ||
  (typeof x === 'bigint' && x >= 1n && x < 1n << 64n) ||
  (Number.isSafeInteger(x) && (x as number) >= 1);

/**
 * Checks a selector's shape and types (the same rules for the API, the CLI and the filter file)
 * and returns a copy. Paths are checked when encoded.
 */
export function parseSelector(value: unknown, what: string): ProcessSelector {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`wxwatch: ${what} must be an object with lists ${[...SELECTOR_KEYS].join(', ')}, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!SELECTOR_KEYS.has(key)) throw new TypeError(`wxwatch: ${what}: unknown field "${key}" (known: ${[...SELECTOR_KEYS].join(', ')})`);
  }
  const s = value as Record<string, unknown>;
  const out: ProcessSelector = {};
  if (s.pids !== undefined) out.pids = list(`${what}.pids`, s.pids, isPid, `pids from 1 to ${PID_MAX_LIMIT}`, isNumber);
  if (s.uids !== undefined) out.uids = list(`${what}.uids`, s.uids, isUid, 'uids from 0 to 4294967294', isNumber);
  if (s.comms !== undefined) out.comms = list(`${what}.comms`, s.comms, isComm, `process names of 1 to ${COMM_LEN - 1} bytes`, isString);
  if (s.cgroups !== undefined) out.cgroups = list(`${what}.cgroups`, s.cgroups, isCgroup, 'cgroup v2 directories or ids', (x) => isNumber(x) || isString(x) || typeof x === 'bigint');
  if (s.exes !== undefined) out.exes = list(`${what}.exes`, s.exes, isPath, 'paths of executables', isString);
  return out;
}

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
  const k = new Uint8Array(COMM_LEN);
  k.set(Buffer.from(name));
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
  if (!st.isFile() || (st.mode & 0o111n) === 0n) throw new Error(`wxwatch: exes: ${path} is not an executable file`);
  const k = new Uint8Array(16);
  const v = new DataView(k.buffer);
  // the superblock's device, as the kernel's inode has it (stat's differs on overlayfs, btrfs)
  v.setUint32(0, superblockDev(path) ?? kernelDev(st.dev), true);
  v.setBigUint64(8, st.ino, true);
  return k;
}

function cgroupKey(c: string | bigint | number): Key {
  if (typeof c !== 'string') return u64Key(BigInt(c));
  const st = statOf('cgroups', c);
  let type = 0;
  try {
    type = statfsSync(c).type;
  } catch {
    // a file stat() can see but statfs() cannot: refused below
  }
  if (!st.isDirectory() || type !== CGROUP2_SUPER_MAGIC) {
    throw new Error(`wxwatch: cgroups: ${c} is not a cgroup v2 directory (a directory under a cgroup2 mount)`);
  }
  const level = cgroupLevel(c);
  if (level >= CGROUP_MAX_DEPTH) {
    throw new RangeError(
      `wxwatch: cgroups: ${c} is at level ${level} of the cgroup hierarchy; the kernel's filter matches cgroups at levels 0 to ${CGROUP_MAX_DEPTH - 1} only (nothing in it would ever match)`,
    );
  }
  return u64Key(st.ino); // cgroup v2 id = inode number
}

function keysOf(selector: ProcessSelector | undefined, what: string): Map<number, Key[]> {
  const s = parseSelector(selector, what);
  return new Map<number, Key[]>([
    [FILTER_KIND.pid, (s.pids ?? []).map(u32Key)],
    [FILTER_KIND.uid, (s.uids ?? []).map(u32Key)],
    [FILTER_KIND.comm, (s.comms ?? []).map(commKey)],
    [FILTER_KIND.cgroup, (s.cgroups ?? []).map(cgroupKey)],
    [FILTER_KIND.exe, (s.exes ?? []).map(exeKey)],
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
    // Allow and scope entries of a kind share one kernel map.
    if (entries.size > MAX_ENTRIES) {
      throw new RangeError(
        `wxwatch: ${KIND_FIELD[kind]}: allow and scope together list ${entries.size} distinct entries; the kernel's filter map holds at most ${MAX_ENTRIES} per kind`,
      );
    }
    if (watch.get(kind)!.length) config.scopeMask |= 1 << kind;
    if (entries.size) config.activeMask |= 1 << kind;
    const keys = Buffer.concat([...entries.keys()].map((hex) => Buffer.from(hex, 'hex')));
    sets.push({ kind, keys: new Uint8Array(keys), actions: Uint8Array.from(entries.values()) });
  }
  return { sets, config };
}

