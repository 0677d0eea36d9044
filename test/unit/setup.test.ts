// scripts/setup.mjs rebuilds only what its sources make stale: files the tests build (bench/bin,
// test/fixtures/bin) must not make the next `npm start` compile TypeScript again.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from '../helpers/fixtures';

describe('setup: build stamps', () => {
  let root: string;
  const file = (rel: string, at: number, text = '') => {
    const full = path.join(root, rel);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
    utimesSync(full, at, at);
  };
  // A stand-in for each tool setup runs: it leaves a mark, so the test sees what was rebuilt.
  const tool = (name: string) => file(`node_modules/.bin/${name}`, 1000, `#!/bin/sh\ntouch "${root}/ran-${name}"\n`);
  const setup = () => {
    rmSync(path.join(root, 'ran-tsc'), { force: true });
    const res = spawnSync(process.execPath, [path.join(root, 'scripts', 'setup.mjs')], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    return { compiled: existsSync(path.join(root, 'ran-tsc')), stderr: res.stderr };
  };

  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'wxwatch-setup-'));
    mkdirSync(path.join(root, 'scripts'));
    copyFileSync(path.join(REPO, 'scripts', 'setup.mjs'), path.join(root, 'scripts', 'setup.mjs'));
    // Sources at t=1000 s, outputs at t=2000 s: everything is up to date.
    for (const src of ['package.json', 'binding.gyp', 'bpf/wxwatch.h', 'native/addon.cc', 'scripts/gen-wire.mjs', 'tsconfig.json', 'lib/a.ts', 'test/unit/a.test.ts', 'test/fixtures/wxfix.c', 'bench/a.ts', 'bench/mprotect_loop.c']) {
      file(src, 1000);
    }
    for (const name of ['tsc', 'node-gyp']) tool(name);
    for (const name of ['tsc', 'node-gyp']) chmodSync(path.join(root, 'node_modules/.bin', name), 0o755);
    for (const out of ['node_modules/.package-lock.json', 'build/Release/wxwatch.node', 'lib/wire.ts', 'dist/.tsbuildstamp']) file(out, 2000);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('does not compile TypeScript again for binaries the tests built under bench/ and test/', () => {
    file('bench/bin/mprotect_loop', 3000);
    file('test/fixtures/bin/wxfix', 3000);
    file('bench/results/latest.json', 3000);
    const run = setup();
    assert.equal(run.compiled, false, run.stderr);
    assert.doesNotMatch(run.stderr, /compiling TypeScript/);
  });

  it('compiles it when a TypeScript source changed', () => {
    file('bench/a.ts', 4000);
    assert.equal(setup().compiled, true);
    file('dist/.tsbuildstamp', 5000);
    file('lib/a.ts', 6000);
    assert.equal(setup().compiled, true);
  });
});
