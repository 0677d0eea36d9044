#!/usr/bin/env node
// Makes a fresh clone runnable (npm start, npm test, npm run bench, npm pack): Debian build
// packages, node_modules, the native build and the TypeScript build, each only when missing or
// stale. Never an install hook: a dependent gets prebuilt binaries (see scripts/prepack.mjs).
// Node built-ins only: this runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// bpftool lives in /usr/sbin, which a non-login root shell may not have on PATH.
process.env.PATH = `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/sbin:/sbin`;

// curl and dpkg-dev: npm pack (and its test) builds static libraries from Debian's sources.
const APT_PACKAGES = ['clang', 'llvm', 'libbpf-dev', 'libelf-dev', 'zlib1g-dev', 'bpftool', 'make', 'g++', 'curl', 'dpkg-dev'];
const REQUIRED = [
  { what: 'clang', ok: () => onPath('clang') },
  { what: 'llvm-strip', ok: () => onPath('llvm-strip') },
  { what: 'bpftool', ok: () => onPath('bpftool') },
  { what: 'libbpf headers', ok: () => existsSync('/usr/include/bpf/libbpf.h') },
  { what: 'libelf headers', ok: () => existsSync('/usr/include/gelf.h') },
  { what: 'zlib headers', ok: () => existsSync('/usr/include/zlib.h') },
  { what: 'make', ok: () => onPath('make') },
  { what: 'g++', ok: () => onPath('g++') },
  { what: 'curl', ok: () => onPath('curl') },
  { what: 'dpkg-source', ok: () => onPath('dpkg-source') },
];

function say(msg) {
  process.stderr.write(`wxwatch setup: ${msg}\n`);
}

function fail(msg) {
  say(msg);
  process.exit(1);
}

function onPath(cmd) {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, cmd)));
}

function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (res.error) fail(`could not run ${cmd}: ${res.error.message}`);
  if (res.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${res.status})`);
}

function ensureSystemPackages() {
  const missing = REQUIRED.filter((r) => !r.ok()).map((r) => r.what);
  if (missing.length === 0) return;
  const hint = `apt-get install -y ${APT_PACKAGES.join(' ')}`;
  if (process.getuid?.() !== 0) {
    fail(`missing ${missing.join(', ')}; installing them needs root. Run as root, or: sudo ${hint}`);
  }
  if (!onPath('apt-get')) fail(`missing ${missing.join(', ')} and there is no apt-get here. Install: ${APT_PACKAGES.join(' ')}`);
  say(`installing Debian packages (missing: ${missing.join(', ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', ...APT_PACKAGES], { env });
  const still = REQUIRED.filter((r) => !r.ok()).map((r) => r.what);
  if (still.length) fail(`still missing after apt-get: ${still.join(', ')}`);
}

// Files named in `paths` always count; inside a directory only those `source` accepts, so that
// what the tests build there (bench/bin, test/fixtures/bin) never makes an output stale.
function newestMtime(paths, source = () => true, named = true) {
  let newest = 0;
  for (const p of paths) {
    const full = join(root, p);
    if (!existsSync(full)) continue;
    const st = statSync(full);
    if (st.isDirectory()) {
      const kids = readdirSync(full).map((k) => join(p, k));
      newest = Math.max(newest, newestMtime(kids, source, false));
    } else if (named || source(p)) {
      newest = Math.max(newest, st.mtimeMs);
    }
  }
  return newest;
}

function stale(output, inputs, source) {
  const out = join(root, output);
  return !existsSync(out) || statSync(out).mtimeMs < newestMtime(inputs, source);
}

function ensureNodeModules() {
  if (!stale('node_modules/.package-lock.json', ['package.json'])) return;
  say('installing node_modules');
  // --ignore-scripts: the package's own install hook (node-gyp-build) is for dependents; the
  // build happens below.
  run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund']);
}

/** --nodedir=/usr when the installed headers are this node's own: no download, works offline. */
function localNodeHeaders() {
  const header = '/usr/include/node/node_version.h';
  if (!existsSync(header)) return [];
  const text = readFileSync(header, 'utf8');
  const part = (name) => text.match(new RegExp(`#define NODE_${name}_VERSION (\\d+)`))?.[1];
  const version = ['MAJOR', 'MINOR', 'PATCH'].map(part).join('.');
  return version === process.versions.node ? ['--nodedir=/usr'] : [];
}

function ensureBuild() {
  const bin = (name) => join(root, 'node_modules', '.bin', name);
  if (stale('build/Release/wxwatch.node', ['binding.gyp', 'bpf', 'native'])) {
    say('building the BPF object and native addon');
    run(bin('node-gyp'), ['rebuild', ...localNodeHeaders()]);
  }
  // lib/wire.ts: the record layout and constants, generated from the one header.
  if (stale('lib/wire.ts', ['bpf/wxwatch.h', 'scripts/gen-wire.mjs'])) run(process.execPath, ['scripts/gen-wire.mjs']);
  // tsc's inputs are the .ts files under lib, test and bench (tsconfig's include).
  if (stale('dist/.tsbuildstamp', ['tsconfig.json', 'lib', 'test', 'bench', 'bpf/wxwatch.h'], (p) => p.endsWith('.ts'))) {
    say('compiling TypeScript');
    run(bin('tsc'), ['-p', '.']);
    writeFileSync(join(root, 'dist/.tsbuildstamp'), '');
  }
}

ensureSystemPackages();
ensureNodeModules();
ensureBuild();
