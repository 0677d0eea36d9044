// What /proc/self/mountinfo tells about a path: the kernel's device number of the filesystem it
// lives on (its superblock's s_dev), and a cgroup v2 directory's level in its hierarchy.
// The device: stat() does not always give it. stat() does not always: on an overlayfs (a container's root,
// the test guests') a file reports the device of the layer under it, and btrfs reports one per
// subvolume, while the kernel's inode sits in the overlay's (the filesystem's) superblock.
import { readFileSync, realpathSync } from 'node:fs';
import { relative } from 'node:path';

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

const within = (path: string, mountPoint: string) =>
  mountPoint === '/' || path === mountPoint || path.startsWith(`${mountPoint}/`);

/** major << 20 | minor of the mount path is on (the deepest one whose mount point contains it);
 * undefined if mountinfo cannot say. */
export function superblockDev(path: string, mountinfo = '/proc/self/mountinfo'): number | undefined {
  let real: string;
  let text: string;
  try {
    real = realpathSync(path);
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    return undefined;
  }
  let best: { depth: number; dev: number } | undefined;
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const [major, minor] = f[2].split(':').map(Number);
    const mountPoint = unescape(f[4]);
    if (!within(real, mountPoint)) continue;
    const depth = mountPoint === '/' ? 0 : mountPoint.split('/').length;
    // the last of equal depth is the one on top (mounted later)
    if (!best || depth >= best.depth) best = { depth, dev: ((major << 20) | minor) >>> 0 };
  }
  return best?.dev;
}

const depthOf = (p: string) => p.split('/').filter(Boolean).length;

/**
 * The level of a cgroup v2 directory (the root is 0): its depth below the cgroup2 mount holding
 * it, plus the depth of that mount's own root. Inside a cgroup namespace the kernel shows no path
 * above the namespace's root, and levels are counted from there.
 */
export function cgroupLevel(dir: string, mountinfo = '/proc/self/mountinfo'): number {
  const real = realpathSync(dir);
  let best: { point: string; root: string } | undefined;
  for (const line of readFileSync(mountinfo, 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[f.indexOf('-') + 1] !== 'cgroup2') continue;
    const point = unescape(f[4]);
    if (within(real, point) && (!best || point.length > best.point.length)) best = { point, root: unescape(f[3]) };
  }
  if (!best) return depthOf(real);
  const rootDepth = best.root.split('/').includes('..') ? 0 : depthOf(best.root);
  return rootDepth + depthOf(relative(best.point, real));
}
