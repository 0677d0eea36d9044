// A tiny tmpfs the test mounts (root only), to fill a filesystem for real: ENOSPC from the kernel.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function tinyTmpfs(bytes: number): { dir: string; unmount(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'wxwatch-test', dir]);
  return {
    dir,
    unmount: () => {
      execFileSync('umount', [dir]);
      rmdirSync(dir);
    },
  };
}
