// Debian kernels for the guests, without installing them: the packages a metapackage depends on
// are downloaded with apt-get and unpacked with dpkg-deb into the cache, once. A kernel of
// another suite (bullseye, sid) comes through a private apt list of that suite in the cache, so
// that the host's apt state is never touched.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE, KERNELS } from './config.mjs';
import { aptUpdate, ensureAptLists } from './packages.mjs';
import { APT_ENV, run, say } from './proc.mjs';

/** The host's own archive (its first deb822 stanza that is not a security suite). */
export function archiveUri(sources = readFileSync('/etc/apt/sources.list.d/debian.sources', 'utf8')) {
  for (const stanza of sources.split(/\n\s*\n/)) {
    const field = (name) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1].trim().split(/\s+/) ?? [];
    if (!field('Types').includes('deb') || field('Suites').every((s) => s.includes('security'))) continue;
    const [uri] = field('URIs');
    if (uri) return uri;
  }
  throw new Error('no Debian archive in /etc/apt/sources.list.d/debian.sources');
}

/** apt-get's options for a private apt state of one suite: its own lists, cache and sources. */
function suiteApt(suite) {
  const dir = join(CACHE, 'apt', suite);
  const opts = [
    '-o', `Dir::State::Lists=${join(dir, 'lists')}`,
    '-o', `Dir::Cache=${join(dir, 'cache')}`,
    '-o', `Dir::Etc::SourceList=${join(dir, 'sources.list')}`,
    '-o', 'Dir::Etc::SourceParts=/dev/null',
  ];
  // The lists decompressed once into Packages.txt (sid's is over 64 MB: too big for a pipe read).
  const packages = join(dir, 'Packages.txt');
  const update = () => {
    mkdirSync(join(dir, 'lists', 'partial'), { recursive: true });
    mkdirSync(join(dir, 'cache', 'archives', 'partial'), { recursive: true });
    const line = `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${archiveUri()} ${suite} main\n`;
    writeFileSync(join(dir, 'sources.list'), line);
    say(`apt-get update (${suite}, private lists in ${dir})`);
    run('apt-get', [...opts, 'update', '-qq'], { env: APT_ENV });
    const lists = readdirSync(join(dir, 'lists')).filter((f) => f.includes('_Packages')).map((f) => join(dir, 'lists', f));
    if (!lists.length) throw new Error(`apt-get update of ${suite} left no Packages list in ${dir}/lists`);
    const fd = openSync(`${packages}.tmp`, 'w');
    try {
      const res = spawnSync('/usr/lib/apt/apt-helper', ['cat-file', ...lists], { stdio: ['ignore', fd, 'pipe'] });
      if (res.status !== 0) throw new Error(`apt-helper cat-file failed: ${res.error?.message ?? res.stderr}`);
    } finally {
      closeSync(fd);
    }
    renameSync(`${packages}.tmp`, packages);
    text = null;
  };
  let text = null;
  return {
    opts,
    update,
    ensureLists: () => existsSync(packages) || update(),
    /** The Packages stanza of pkg in this suite's lists, as { field: value }, or null. */
    stanza(pkg) {
      text ??= readFileSync(packages, 'utf8');
      const at = text.search(new RegExp(`^Package: ${pkg.replace(/[.+]/g, '\\$&')}$`, 'm'));
      if (at < 0) return null;
      const end = text.indexOf('\n\n', at);
      const fields = {};
      for (const m of text.slice(at, end < 0 ? undefined : end).matchAll(/^([\w-]+): (.*)$/gm)) fields[m[1]] = m[2];
      return fields;
    },
  };
}

/** Package names of a Depends field, alternatives and versions dropped. */
const dependsOf = (field = '') => field.split(',').map((d) => d.trim().split(/[\s|(]/)[0]).filter(Boolean);

/**
 * The packages that hold one kernel's files behind a metapackage: its linux-image-KVER package,
 * and when that one is empty (sid), the linux-binary-KVER (vmlinuz), linux-modules-KVER and
 * linux-base-KVER (config) packages it depends on.
 */
function kernelPackages(spec) {
  if (!spec.suite) {
    ensureAptLists([spec.meta]);
    const deps = run('apt-cache', ['depends', '--no-recommends', '--no-suggests', spec.meta]);
    const m = deps.match(/Depends: (linux-image-\S+)/);
    if (!m) throw new Error(`${spec.meta} depends on no linux-image package:\n${deps}`);
    return { image: m[1], pkgs: [m[1]] };
  }
  // apt-cache would answer for the host's installed version: read the suite's own lists.
  const apt = suiteApt(spec.suite);
  apt.ensureLists();
  const meta = apt.stanza(spec.meta);
  const image = dependsOf(meta?.Depends).find((d) => /^linux-image-.*\d/.test(d) && !d.endsWith('-dbg'));
  if (!image) throw new Error(`${spec.meta} in ${spec.suite} depends on no linux-image package (${meta?.Depends ?? 'not in the lists'})`);
  const parts = dependsOf(apt.stanza(image)?.Depends).filter((d) => /^linux-(binary|modules|base)-.*\d/.test(d));
  return { image, pkgs: [image, ...parts], apt };
}

function download(pkg, apt) {
  const debs = join(CACHE, 'debs');
  mkdirSync(debs, { recursive: true });
  const have = () => readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!have()) {
    say(`downloading ${pkg}`);
    const get = () => run('apt-get', [...(apt?.opts ?? []), 'download', '-qq', pkg], { cwd: debs });
    try {
      get();
    } catch (err) {
      if (apt) throw err; // ensureKernel updates the suite's lists and resolves the names again
      aptUpdate(); // lists older than the mirror name a file it no longer has
      get();
    }
  }
  const deb = have();
  if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${debs}`);
  return join(debs, deb);
}

/** Unpacks into a private directory renamed into place, so a half-done unpack is never used. */
function unpack(pkgs, dir, apt) {
  const debs = pkgs.map((p) => download(p, apt));
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  for (const [i, deb] of debs.entries()) {
    say(`unpacking ${pkgs[i]}`);
    run('dpkg-deb', ['-x', deb, tmp]);
  }
  writeFileSync(join(tmp, '.complete'), '');
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  for (const deb of debs) rmSync(deb);
}

/** The kernel's files in an unpacked tree, or null: its modules and vmlinuz (boot/ or, in sid's
 * packages, next to the modules) and its config. */
function filesOf(dir) {
  const modRoot = [join(dir, 'lib', 'modules'), join(dir, 'usr', 'lib', 'modules')].find(existsSync);
  if (!modRoot) return null;
  const kver = readdirSync(modRoot)[0];
  const vmlinuz = [join(dir, 'boot', `vmlinuz-${kver}`), join(modRoot, kver, 'vmlinuz')].find(existsSync);
  const config = [join(dir, 'boot', `config-${kver}`), join(modRoot, kver, 'config'), join(dir, 'usr', 'lib', `linux-base-${kver}`, 'config')].find(existsSync);
  return { kver, vmlinuz, config, modules: join(modRoot, kver) };
}

/** The kernel command line's extra words for a kernel: its cmdline and lsm= with lsmAdd. */
export function extraCmdline(spec, config) {
  const words = spec.cmdline ? spec.cmdline.split(/\s+/) : [];
  if (spec.lsmAdd?.length) {
    const m = config && /^CONFIG_LSM="([^"]*)"$/m.exec(readFileSync(config, 'utf8'));
    if (!m) throw new Error(`lsmAdd needs the kernel's CONFIG_LSM, and its config file has none (${config ?? 'no config file'})`);
    const list = m[1].split(',').filter(Boolean);
    words.push(`lsm=${[...list, ...spec.lsmAdd.filter((l) => !list.includes(l))].join(',')}`);
  }
  return words;
}

/** The unpacked kernel behind spec: resolved from the lists, fetched unless already there. */
function unpacked(spec) {
  const { image, pkgs, apt } = kernelPackages(spec);
  const dir = join(CACHE, 'kernels', image);
  if (!existsSync(join(dir, '.complete'))) {
    mkdirSync(join(CACHE, 'kernels'), { recursive: true });
    unpack(pkgs, dir, apt);
  }
  return { image, pkgs, dir };
}

/** { label, pkg, kver, vmlinuz, modules, config, cmdline } for a label of KERNELS. */
export function ensureKernel(label) {
  const spec = KERNELS[label];
  if (!spec) throw new Error(`unknown kernel ${label}; known: ${Object.keys(KERNELS).join(', ')}`);
  let got;
  try {
    got = unpacked(spec);
  } catch (err) {
    if (!spec.suite) throw err;
    // Lists older than the mirror (sid moves daily) name packages it no longer has.
    suiteApt(spec.suite).update();
    got = unpacked(spec);
  }
  const { image, pkgs, dir } = got;
  const files = filesOf(dir);
  if (!files) throw new Error(`${pkgs.join(', ')} hold no lib/modules`);
  if (!files.vmlinuz) throw new Error(`${pkgs.join(', ')} hold no vmlinuz for ${files.kver}`);
  return { label, pkg: image, ...files, cmdline: extraCmdline(spec, files.config) };
}
