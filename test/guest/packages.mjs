// Host packages for the guests: QEMU and a static busybox, installed with apt-get on first use.
import { spawnSync } from 'node:child_process';
import { HOST_PACKAGES } from './config.mjs';
import { APT_ENV, run, say } from './proc.mjs';

/** apt-cache knows nothing until the lists are fetched (a fresh machine has none). */
export function aptKnows(pkg) {
  try {
    return run('apt-cache', ['show', '--no-all-versions', pkg]).length > 0;
  } catch {
    return false;
  }
}

export function aptUpdate() {
  say('apt-get update');
  run('apt-get', ['update', '-qq'], { env: APT_ENV });
}

export function ensureAptLists(pkgs) {
  if (!pkgs.every(aptKnows)) aptUpdate();
}

// By package, not by file: the dynamic `busybox` package also ships /bin/busybox, which cannot
// run in an initramfs without its libc.
const installed = (pkg) =>
  spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' }).stdout?.includes('install ok installed');

export function ensureHostPackages() {
  const missing = HOST_PACKAGES.filter((p) => !installed(p));
  if (missing.length === 0) return;
  say(`installing ${missing.join(' ')} with apt-get (first use)`);
  ensureAptLists(missing);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env: APT_ENV });
  const still = HOST_PACKAGES.filter((p) => !installed(p));
  if (still.length) throw new Error(`still missing after apt-get: ${still.join(' ')}`);
}
