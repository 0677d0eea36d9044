// What the kernel knows about a process, computed from user space for comparison with records:
// device numbers in the kernel's encoding, namespace and cgroup ids, and fixture runs that also
// tell which process ran them.
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { FixtureReport } from './fixtures';

/** A file-backed mode's report: ctime is the file's st_ctim in ns, as a string. */
export interface FileReport extends FixtureReport {
  path?: string;
  inode: string;
  dev: number;
  ctime: string;
}

export { kernelDev } from '../../lib/filters';

/** The inode number of one of this process's namespaces: readlink gives "pid:[N]". */
export function nsInode(kind: 'pid' | 'mnt' | 'uts' | 'cgroup'): number {
  const link = readlinkSync(`/proc/self/ns/${kind}`);
  const m = /^\w+:\[(\d+)\]$/.exec(link);
  if (!m) throw new Error(`unexpected namespace link ${link}`);
  return Number(m[1]);
}

/**
 * The cgroup v2 id of this process (what bpf_get_current_cgroup_id() returns): the inode number
 * of its cgroup's directory in the cgroup2 hierarchy. Null when no cgroup2 hierarchy is mounted.
 */
export function cgroupV2Id(): bigint | null {
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  const mount = cgroup2Mount();
  if (!line || !mount) return null;
  return statSync(path.join(mount, line.slice(3)), { bigint: true }).ino;
}

/** Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a
 * hybrid host), or null. */
export function cgroup2Mount(): string | null {
  const fields = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[f.indexOf('-') + 1] === 'cgroup2' && f[3] === '/');
  return fields ? fields[4] : null;
}

export { runWithPid } from './fixtures';
export type { Run } from './fixtures';
