// Builds the C helpers into bench/bin/ (gitignored). Argument lists only, no shell strings; a
// helper is rebuilt when one of its inputs is newer than it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { BIN, log, ROOT } from './helpers';

export interface Helpers {
  injector: string;
  mprotectLoop: string;
  wxfix: string;
}

const CC = process.env.CC || 'cc';
const LIBBPF = ['-lbpf', '-lelf', '-lz', '-lpthread'];

function stale(output: string, inputs: string[]): boolean {
  if (!existsSync(output)) return true;
  const built = statSync(output).mtimeMs;
  return inputs.some((input) => statSync(path.join(ROOT, input)).mtimeMs > built);
}

function run(file: string, args: string[]): void {
  // The compilers' own messages go straight to the terminal; a failure throws.
  execFileSync(file, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
}

export function buildHelpers(): Helpers {
  mkdirSync(BIN, { recursive: true });
  const outDir = path.join('bench', 'bin'); // relative: the compilers run from the repository root
  const rel = (name: string) => path.join(outDir, name);
  const helpers: Helpers = {
    injector: path.join(BIN, 'injector'),
    mprotectLoop: path.join(BIN, 'mprotect_loop'),
    wxfix: path.join(BIN, 'wxfix'),
  };

  // The skeleton embeds the BPF object, so the injector binary is self-contained.
  const skeleton = path.join(BIN, 'injector_bpf.skel.h');
  if (stale(skeleton, ['bench/injector.bpf.c', 'bpf/wxwatch.h', 'scripts/build-bpf.sh'])) {
    log('building bench/bin/injector.bpf.o and its skeleton');
    run('sh', ['scripts/build-bpf.sh', 'bench/injector.bpf.c', outDir, 'injector_bpf']);
  }
  if (stale(helpers.injector, ['bench/injector.c', rel('injector_bpf.skel.h')])) {
    log('building bench/bin/injector');
    run(CC, ['-O2', '-Wall', '-Wextra', `-I${outDir}`, '-Ibpf', 'bench/injector.c', '-o', rel('injector'), ...LIBBPF]);
  }
  if (stale(helpers.mprotectLoop, ['bench/mprotect_loop.c'])) {
    log('building bench/bin/mprotect_loop');
    run(CC, ['-O2', '-Wall', '-Wextra', 'bench/mprotect_loop.c', '-o', rel('mprotect_loop')]);
  }
  // Our own copy of the test fixture, so the bench does not depend on the test build.
  if (stale(helpers.wxfix, ['test/fixtures/wxfix.c'])) {
    log('building bench/bin/wxfix from test/fixtures/wxfix.c');
    run(CC, ['-O2', '-Wall', 'test/fixtures/wxfix.c', '-o', rel('wxfix')]);
  }
  return helpers;
}
