// Debian kernels for the guests, without installing them: the image package a metapackage
// depends on is downloaded with apt-get and unpacked with dpkg-deb into the cache, once.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE, KERNELS } from './config.mjs';
import { aptUpdate, ensureAptLists } from './packages.mjs';
import { run, say } from './proc.mjs';

/** The exact image package behind a metapackage, e.g. linux-image-6.1.0-57-amd64. */
function imagePackage(meta) {
  ensureAptLists([meta]);
  const deps = run('apt-cache', ['depends', '--no-recommends', '--no-suggests', meta]);
  const m = deps.match(/Depends: (linux-image-\S+)/);
  if (!m) throw new Error(`${meta} depends on no linux-image package:\n${deps}`);
  return m[1];
}

function download(pkg) {
  const debs = join(CACHE, 'debs');
  mkdirSync(debs, { recursive: true });
  const have = () => readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!have()) {
    say(`downloading ${pkg}`);
    try {
      run('apt-get', ['download', '-qq', pkg], { cwd: debs });
    } catch {
      aptUpdate(); // lists older than the mirror name a file it no longer has
      run('apt-get', ['download', '-qq', pkg], { cwd: debs });
    }
  }
  const deb = have();
  if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${debs}`);
  return join(debs, deb);
}

/** Unpacks into a private directory renamed into place, so a half-done unpack is never used. */
function unpack(pkg, dir) {
  const deb = download(pkg);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  say(`unpacking ${pkg}`);
  run('dpkg-deb', ['-x', deb, tmp]);
  writeFileSync(join(tmp, '.complete'), '');
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  rmSync(deb);
}

/** { label, pkg, kver, vmlinuz, modules } for a label of KERNELS ('6.1', '6.12'). */
export function ensureKernel(label) {
  const meta = KERNELS[label];
  if (!meta) throw new Error(`unknown kernel ${label}; known: ${Object.keys(KERNELS).join(', ')}`);
  const pkg = imagePackage(meta);
  const dir = join(CACHE, 'kernels', pkg);
  if (!existsSync(join(dir, '.complete'))) {
    mkdirSync(join(CACHE, 'kernels'), { recursive: true });
    unpack(pkg, dir);
  }
  const modRoot = [join(dir, 'lib', 'modules'), join(dir, 'usr', 'lib', 'modules')].find(existsSync);
  if (!modRoot) throw new Error(`${pkg} has no lib/modules`);
  const kver = readdirSync(modRoot)[0];
  const vmlinuz = join(dir, 'boot', `vmlinuz-${kver}`);
  if (!existsSync(vmlinuz)) throw new Error(`${pkg} has no boot/vmlinuz-${kver}`);
  return { label, pkg, kver, vmlinuz, modules: join(modRoot, kver) };
}
