// Real cgroup v2 directories nested deeper than the kernel's filters look (root only).
import { mkdirSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { cgroup2Mount } from './procs';

/** A chain of `depth` nested cgroups under the cgroup2 mount; at(level) is the directory at
 * that level (the mount's root is level 0 on a host whose cgroup2 mount is the root). */
export function nestedCgroups(depth: number): { at(level: number): string; remove(): void } {
  const mount = cgroup2Mount();
  if (!mount) throw new Error('no cgroup2 mount');
  const dirs: string[] = [];
  let dir = mount;
  for (let level = 1; level <= depth; level++) {
    dir = path.join(dir, level === 1 ? `wxwatch-test-${process.pid}` : `l${level}`);
    mkdirSync(dir);
    dirs.push(dir);
  }
  return {
    at: (level) => (level === 0 ? mount : dirs[level - 1]),
    remove: () => {
      for (const d of dirs.reverse()) rmdirSync(d);
    },
  };
}
