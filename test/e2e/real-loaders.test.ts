// Debian's own code loaders are the truth a signature is held against: PHP 8.2's opcache JIT,
// Erlang/OTP's BEAM JIT and LuaJIT, each run under an independent oracle (bpftrace on the syscall
// tracepoints, test/helpers/oracle.ts) while the sensor watches. What they do (checked by hand on
// a 6.18 host with strace, bpftrace and /proc/PID/maps):
//   PHP 8.2.36, opcache.jit=tracing: one shared anonymous segment (/dev/zero, 144 MiB with a
//     16 MiB JIT buffer) mapped RW, its tail flipped RX/RW per compiled batch with mprotect: a
//     TRC-104 per flip to RX, and no WXW-001 (rw-s at offsets 0-128 MiB, r-xs at 128-144 MiB);
//   BEAM (OTP 25, erts 13.1.5, [jit:ns]): memfd "vmem" of 8 MiB mapped RX shared, then RW shared
//     at the same offsets (exec-first), both views for its lifetime: one WXW-001, no TRC-104;
//   LuaJIT 2.1.0-beta3: a 64 KiB anonymous mcode area flipped RW/RX with mprotect: TRC-104 each.
// The packages are installed on first use with apt-get (root); without root, apt-get or the
// archive, the test skips and says why.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { countsOf } from '../helpers/corpus';
import { haveBpftrace, OracleRun, underOracle } from '../helpers/oracle';
import { collect, isRoot, settle, startSensor, Sensor } from '../helpers/sensor';
import type { Finding } from '../../lib/signatures/signature';

function installed(pkg: string): boolean {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

/** Installs what is missing; null when done, else why it could not be. Says how long it took. */
function ensurePackages(pkgs: string[]): string | null {
  const missing = pkgs.filter((p) => !installed(p));
  if (!missing.length) return null;
  if (!isRoot) return `needs root to install ${missing.join(' ')}`;
  if (!existsSync('/usr/bin/apt-get')) return `no apt-get to install ${missing.join(' ')}`;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const began = Date.now();
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '-q', '-o', 'DPkg::Lock::Timeout=300', ...missing], { env, encoding: 'utf8', timeout: 600_000 });
  let r = install();
  if (r.status !== 0) {
    // the lists may be missing or stale (a fresh machine): fetch them once
    spawnSync('apt-get', ['update', '-q', '-o', 'DPkg::Lock::Timeout=300'], { env, encoding: 'utf8', timeout: 300_000 });
    r = install();
  }
  const secs = ((Date.now() - began) / 1000).toFixed(1);
  if (r.status !== 0) return `apt-get install ${missing.join(' ')} failed after ${secs} s: ${(r.stderr || '').trim().split('\n').slice(-2).join(' ')}`;
  console.log(`      (installed ${missing.join(' ')} in ${secs} s)`);
  return null;
}

function skipWith(ctx: Mocha.Context, why: string): never {
  console.log(`      (skipped: ${why})`);
  ctx.skip();
}

describe('real code loaders beside an independent oracle (root, Debian packages, dedup off)', function () {
  this.timeout(900_000);
  let sensor: Sensor;
  let findings: Finding[];
  let dir: string;

  before(function () {
    if (!isRoot) skipWith(this, 'needs root (the sensor and bpftrace)');
    const why = ensurePackages(['bpftrace']);
    if (why) skipWith(this, why);
    if (!haveBpftrace()) skipWith(this, 'no bpftrace after installing it');
    dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-loaders-'));
    const started = startSensor({ dedup: false, captureBytes: 0, ringBufferBytes: 4 << 20 });
    sensor = started.sensor;
    findings = collect(sensor, 'finding');
  });
  after(async () => {
    await sensor?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs argv under the oracle and the sensor; the oracle's run and the sensor's counts for it. */
  async function watched(argv: string[]) {
    const before = sensor.stats();
    const run: OracleRun = await underOracle(argv);
    await settle(findings);
    const after = sensor.stats();
    assert.equal(after.lost - before.lost, 0, 'lost');
    assert.equal(after.noState - before.noState, 0, 'noState');
    const counts = countsOf(findings, run.pid);
    console.log(`      pid ${run.pid}: oracle ${JSON.stringify(run.counts)}, sensor ${JSON.stringify(counts)}`);
    return { run, counts };
  }

  it("PHP 8.2's opcache JIT: a TRC-104 per W→X the oracle counts, and no WXW-001 (its segment's views share no offset)", async function () {
    const why = ensurePackages(['php8.2-cli', 'php8.2-opcache']);
    if (why) skipWith(this, why);
    const script = path.join(dir, 'jit.php');
    writeFileSync(
      script,
      `<?php
function fib($n) { return $n < 2 ? $n : fib($n - 1) + fib($n - 2); }
$s = 0;
for ($i = 0; $i < 200000; $i++) { $s += $i % 7; }
echo "result ", fib(25), " ", $s, "\\n";
foreach (explode("\\n", file_get_contents("/proc/self/maps")) as $l) if (strpos($l, "/dev/zero") !== false) echo "map ", $l, "\\n";
`,
    );
    const php = execFileSync('sh', ['-c', 'command -v php8.2 || command -v php'], { encoding: 'utf8' }).trim();
    const { run, counts } = await watched([php, '-d', 'opcache.enable_cli=1', '-d', 'opcache.jit=tracing', '-d', 'opcache.jit_buffer_size=16M', script]);
    assert.match(run.output, /result 75025 599994/);
    // the split segment, as the kernel shows it: one shared object, a writable and an executable
    // view at different offsets
    const maps = run.output.split('\n').filter((l) => l.startsWith('map '));
    assert.ok(maps.some((l) => / rw-s 00000000 /.test(l)) && maps.some((l) => / r-xs /.test(l)), maps.join('\n'));
    assert.ok(run.counts['TRC-104'] >= 1, 'the JIT compiled (W→X seen by the oracle)');
    assert.equal(run.counts['WXW-001'], 0);
    assert.equal(counts['TRC-104'], run.counts['TRC-104'], 'TRC-104 per W→X, as the oracle counts');
    assert.equal(counts['WXW-001'], 0, 'no executable alias: no offset is in both views');
    assert.equal(counts['WXW-003'], run.counts['WXW-003']);
    assert.equal(counts['WXW-002'], 0);
    assert.equal(counts['WXW-004'], 0, 'shared anonymous memory is not an in-memory file');
  });

  it("Erlang/OTP's BEAM JIT: its exec-first double mapping of a memfd is a WXW-001 (at least one), as the oracle counts", async function () {
    const why = ensurePackages(['erlang-base']);
    if (why) skipWith(this, why);
    const { run, counts } = await watched(['/usr/bin/erl', '-noshell', '-eval', 'io:format("result ~p~n", [lists:sum(lists:seq(1, 100000))]), halt().']);
    assert.match(run.output, /result 5000050000/);
    assert.ok(run.counts['WXW-001'] >= 1, 'the oracle saw the double mapping');
    assert.equal(counts['WXW-001'], run.counts['WXW-001']);
    assert.ok(counts['WXW-001'] >= 1);
    assert.equal(counts['TRC-104'], run.counts['TRC-104']);
    assert.equal(counts['WXW-003'], run.counts['WXW-003']);
    assert.equal(counts['WXW-002'], 0);
    assert.equal(counts['WXW-004'], 0, 'the memfd held no written bytes when it was mapped RX');
  });

  it('LuaJIT: a TRC-104 per flip of its mcode area to RX, as the oracle counts', async function () {
    const why = ensurePackages(['luajit']);
    if (why) skipWith(this, why);
    const script = path.join(dir, 'jit.lua');
    writeFileSync(
      script,
      `local s = 0
for i = 1, 3000000 do s = s + (i % 7) end
local function f(n) local t = 0 for j = 1, n do t = t + j * 2 end return t end
for k = 1, 200 do s = s + f(1000) end
print("result " .. s)
`,
    );
    const { run, counts } = await watched(['/usr/bin/luajit', script]);
    assert.match(run.output, /result 209199997/);
    assert.ok(run.counts['TRC-104'] >= 1, 'the JIT compiled');
    assert.equal(counts['TRC-104'], run.counts['TRC-104']);
    assert.equal(counts['WXW-001'], 0);
    assert.equal(counts['WXW-003'], run.counts['WXW-003']);
    assert.equal(counts['WXW-002'], 0);
    assert.equal(counts['WXW-004'], 0);
  });
});
