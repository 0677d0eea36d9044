#!/usr/bin/env node
// Run by binding.gyp before a source build (npm install with no matching prebuild, or a clone):
// says exactly which tools and libraries are missing, instead of a compiler error halfway.
// With --libs it prints the link flags instead: the position-independent static archives that
// scripts/build-static-deps.sh builds (for the prebuilt binary), else the system's shared libs.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const PATH = `${process.env.PATH || ''}:/usr/local/sbin:/usr/sbin:/sbin`;
const onPath = (cmd) => PATH.split(':').some((dir) => dir && existsSync(join(dir, cmd)));
const libDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
const sharedLib = (name) => libDirs.some((dir) => existsSync(join(dir, name)));

// what: shown to the user; pkg: the Debian package that provides it.
const REQUIRED = [
  { what: 'clang (compiles the BPF program)', pkg: 'clang', ok: () => onPath('clang') },
  { what: 'llvm-strip', pkg: 'llvm', ok: () => onPath('llvm-strip') },
  { what: 'bpftool (generates the BPF skeleton)', pkg: 'bpftool', ok: () => onPath('bpftool') },
  { what: 'libbpf headers (/usr/include/bpf/libbpf.h)', pkg: 'libbpf-dev', ok: () => existsSync('/usr/include/bpf/libbpf.h') },
  { what: 'libbpf', pkg: 'libbpf-dev', ok: () => sharedLib('libbpf.so') },
  { what: 'libelf headers (/usr/include/gelf.h)', pkg: 'libelf-dev', ok: () => existsSync('/usr/include/gelf.h') },
  { what: 'libelf', pkg: 'libelf-dev', ok: () => sharedLib('libelf.so') },
  { what: 'zlib headers (/usr/include/zlib.h)', pkg: 'zlib1g-dev', ok: () => existsSync('/usr/include/zlib.h') },
  { what: 'make', pkg: 'make', ok: () => onPath('make') },
  { what: 'a C++20 compiler (g++)', pkg: 'g++', ok: () => onPath('g++') || onPath('c++') },
];

const STATIC = join(__dirname, '..', '.deps', 'static', 'lib');
if (process.argv.includes('--libs')) {
  const archives = ['libbpf.a', 'libelf.a', 'libz.a'].map((a) => join(STATIC, a));
  const flags = archives.every((a) => existsSync(a))
    ? ['-Wl,--exclude-libs,ALL', ...archives]
    : ['-lbpf', '-lelf', '-lz'];
  process.stdout.write(flags.join(' '));
  process.exit(0);
}

const missing = REQUIRED.filter((r) => !r.ok());
if (missing.length) {
  const pkgs = [...new Set(missing.map((r) => r.pkg))];
  process.stderr.write(
    `\nwxwatch: building the native addon from source (no prebuilt binary was used for ` +
      `${process.platform}-${process.arch}, Node ${process.version}) needs what is missing here:\n` +
      missing.map((r) => `  - ${r.what}  [Debian/Ubuntu package: ${r.pkg}]\n`).join('') +
      `Install them (Debian/Ubuntu: apt-get install ${pkgs.join(' ')}) and run npm install again.\n\n`,
  );
  process.exit(1);
}
