// One initramfs per kernel: static busybox as /init's shell, the kernel's 9p/overlay modules
// (decompressed: busybox insmod cannot read .ko.xz) in dependency order, and initramfs-init.sh.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cpio } from './cpio.mjs';
import { CACHE, GUEST_MODULES } from './config.mjs';
import { run } from './proc.mjs';

const INIT = fileURLToPath(new URL('./initramfs-init.sh', import.meta.url));
const BUSYBOX = '/bin/busybox';

const modName = (file) => basename(file).replace(/\.ko(\.(xz|zst|gz))?$/, '').replaceAll('-', '_');

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name)) : /\.ko(\.(xz|zst|gz))?$/.test(d.name) ? [join(dir, d.name)] : [],
  );
}

function decompress(file) {
  if (file.endsWith('.xz')) return Buffer.from(run('xz', ['-dc', file], { encoding: 'buffer' }));
  if (file.endsWith('.zst')) return Buffer.from(run('zstd', ['-dcq', file], { encoding: 'buffer' }));
  if (file.endsWith('.gz')) return Buffer.from(run('gzip', ['-dc', file], { encoding: 'buffer' }));
  return readFileSync(file);
}

/** The module's own "depends=" from its .modinfo section (the deb ships no modules.dep). */
function depends(ko) {
  const m = ko.toString('latin1').match(/\0depends=([^\0]*)\0/);
  return m && m[1] ? m[1].split(',').map((d) => d.replaceAll('-', '_')) : [];
}

/** [{ name, data }] to insmod in order, dependencies first; built-in and absent ones skipped. */
export function moduleLoadOrder(modulesDir, wanted = GUEST_MODULES) {
  const builtin = new Set(
    readFileSync(join(modulesDir, 'modules.builtin'), 'utf8').split('\n').filter(Boolean).map(modName),
  );
  const files = new Map(walk(join(modulesDir, 'kernel')).map((f) => [modName(f), f]));
  const order = [];
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name) || builtin.has(name)) return;
    seen.add(name);
    const file = files.get(name);
    if (!file) return; // not in this kernel at all (e.g. fscache folded into netfs)
    const data = decompress(file);
    depends(data).forEach(visit);
    order.push({ name, data });
  };
  wanted.forEach(visit);
  return order;
}

function build(modules) {
  const cpio = new Cpio();
  for (const d of ['bin', 'dev', 'proc', 'sys', 'lower', 'upper', 'newroot', 'modules']) cpio.dir(d);
  cpio.charDevice('dev/console', 5, 1);
  cpio.file('bin/busybox', readFileSync(BUSYBOX), 0o755);
  cpio.symlink('bin/sh', 'busybox');
  cpio.file('init', readFileSync(INIT), 0o755);
  for (const m of modules) cpio.file(`modules/${m.name}.ko`, m.data);
  cpio.file('modules.list', Buffer.from(modules.map((m) => `${m.name}.ko\n`).join('')));
  return cpio.toBuffer();
}

/** Path of the kernel's initramfs, rebuilt only when the init script or busybox changed. */
export function ensureInitramfs(kernel) {
  const key = createHash('sha256')
    .update(readFileSync(INIT))
    .update(String(statSync(BUSYBOX).mtimeMs))
    .update(GUEST_MODULES.join(' '))
    .digest('hex')
    .slice(0, 12);
  const dir = join(CACHE, 'initramfs');
  const out = join(dir, `${kernel.kver}-${key}.cpio`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, build(moduleLoadOrder(kernel.modules)));
  renameSync(tmp, out);
  return out;
}
