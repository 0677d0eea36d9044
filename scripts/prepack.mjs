#!/usr/bin/env node
// npm pack / npm publish: what a dependent installs is the compiled TypeScript (dist/lib) and a
// prebuilt addon for this platform (prebuilds/<platform>-<arch>/), linked against static PIC
// libbpf, libelf and zlib so that it needs nothing but glibc and libstdc++ on the target.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function run(cmd, args) {
  process.stderr.write(`wxwatch prepack: ${cmd} ${args.join(' ')}\n`);
  const res = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 2, 2] });
  if (res.error || res.status !== 0) {
    process.stderr.write(`wxwatch prepack: ${cmd} failed: ${res.error?.message ?? `exit ${res.status}`}\n`);
    process.exit(1);
  }
}

// Build tools, node_modules (prebuildify) and dist (tsc, when stale), as for npm test.
run(process.execPath, ['scripts/setup.mjs']);
run('sh', ['scripts/build-static-deps.sh']);
rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
// One N-API build serves every Node version; the libc tag keeps it off musl systems.
run(join(root, 'node_modules', '.bin', 'prebuildify'), ['--napi', '--strip', '--tag-libc']);
