#!/usr/bin/env node
// The kernel × mode matrix, from the host: the e2e subset on the host kernel, then one guest boot
// per Debian kernel (config.mjs KERNELS) running each of its modes; prints the table and, with
// --json, writes the cells.
//   node test/guest/matrix.mjs                              everything (host + every guest kernel)
//   node test/guest/matrix.mjs --kernel 6.12 --mode lsm-hook   one cell
//   node test/guest/matrix.mjs --kernel 6.1 -- node -e 'console.log(1)'   any command in a guest
// WXWATCH_GUEST_KERNELS and WXWATCH_GUEST_MODES (comma-separated) stand in for --kernel, --mode;
// a mode filter keeps, of each guest kernel, the modes it runs (the host runs HOST_MODE).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { bootGuest } from './boot.mjs';
import { CELL_TIMEOUT_MS, GUEST_JOBS, GUEST_TESTS, HOST_MODE, KERNELS, LOGS, REPO, bootTimeoutMs, kernelModes } from './config.mjs';
import { ensureInitramfs } from './initramfs.mjs';
import { ensureKernel } from './kernels.mjs';
import { ensureHostPackages } from './packages.mjs';
import { say } from './proc.mjs';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));

const notRun = (kernel, mode, reason) => ({ kernel, mode, ran: false, reason, passed: 0, failed: 0, skipped: 0, failures: [] });

function hostCell(mode) {
  say(`[host] ${mode}: running the subset on ${release()}`);
  const out = join(tmpdir(), `wxwatch-host-cell-${process.pid}.json`);
  mkdirSync(LOGS, { recursive: true });
  const started = Date.now();
  const res = spawnSync(process.execPath, [here('./cell.mjs'), '--mode', mode, '--kernel', 'host', '--out', out], {
    cwd: REPO,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: CELL_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  writeFileSync(join(LOGS, 'host.log'), `${res.stdout ?? ''}${res.stderr ?? ''}`);
  if (!existsSync(out)) return notRun('host', mode, `the mocha run exited ${res.status ?? res.signal} without a result (${join(LOGS, 'host.log')})`);
  const cell = { ...JSON.parse(readFileSync(out, 'utf8')), ran: true, wallSeconds: (Date.now() - started) / 1000 };
  rmSync(out);
  say(`[host] ${mode}: ${cell.passed} passed, ${cell.failed} failed in ${cell.seconds.toFixed(1)} s`);
  return cell;
}

function prepare(label) {
  const kernel = ensureKernel(label);
  return { kernel, initramfs: ensureInitramfs(kernel) };
}

/** Every mode's cell of one guest kernel, from a single boot; a cell for each whatever happens. */
async function guestCells(label, modes, prepared) {
  try {
    if (prepared instanceof Error) throw prepared;
    return await bootAndCollect(label, modes, prepared);
  } catch (err) {
    return { cells: modes.map((m) => notRun(label, m, `no guest: ${err.message}`)) };
  }
}

async function bootAndCollect(label, modes, prepared) {
  const extra = prepared.kernel.cmdline.length ? `, ${prepared.kernel.cmdline.join(' ')}` : '';
  say(`[${label}] booting ${prepared.kernel.kver}${extra} (log: ${join(LOGS, `${label}.log`)})`);
  let upSeconds = null;
  const run = () => bootGuest({
    ...prepared,
    argv: [process.execPath, here('./run-in-guest.mjs'), '--kernel', label, '--modes', modes.join(',')],
    cwd: REPO,
    env: { FORCE_COLOR: '0', NO_COLOR: '1' }, // the serial log is read as text
    timeoutMs: bootTimeoutMs(modes.length),
    onProgress: (line) => {
      const up = line.match(/up in ([\d.]+) s/);
      if (up) upSeconds = Number(up[1]);
      say(line.replace(/^wxguest: /, `[${label}] `));
    },
  });
  let boot = await run();
  if (panickedAtBoot(boot, upSeconds)) {
    // A kernel that dies before userspace (sid's 7.2 has panicked in boot-time code patching
    // under TCG) says nothing about the sensor: boot it once more, keeping the first log.
    copyFileSync(boot.log, boot.log.replace(/\.log$/, '.panic.log'));
    say(`[${label}] the kernel panicked before the job started (log: ${boot.log.replace(/\.log$/, '.panic.log')}); booting again`);
    rmSync(boot.resultsDir, { recursive: true, force: true });
    boot = await run();
  }
  const why = boot.timedOut
    ? `the guest timed out after ${boot.seconds.toFixed(0)} s`
    : boot.exit
      ? `the guest job exited ${boot.exit.code ?? boot.exit.signal}${boot.exit.error ? ` (${boot.exit.error})` : ''} before this mode`
      : 'the guest never ran the job';
  const cells = modes.map((mode) => {
    const file = join(boot.resultsDir, `${mode}.json`);
    if (!existsSync(file)) return notRun(label, mode, `${why} (log: ${boot.log})`);
    return { ...JSON.parse(readFileSync(file, 'utf8')), kernel: label, ran: true };
  });
  rmSync(boot.resultsDir, { recursive: true, force: true });
  say(`[${label}] guest done in ${boot.seconds.toFixed(1)} s`);
  const boots = { kernel: label, kver: prepared.kernel.kver, cmdline: prepared.kernel.cmdline, seconds: boot.seconds, upSeconds };
  return { cells, boot: boots };
}

/** The fixture programs, built here before any guest boots: one built in a guest lands on its
 * tmpfs overlay, where its own text is an in-memory file (WXW-004) to the sensor. */
function buildFixturesOnHost() {
  createRequire(import.meta.url)(join(REPO, 'dist', 'test', 'helpers', 'fixtures.js')).buildFixtures();
}

/** True when the guest's kernel panicked before the job was up: no result, no timeout. */
function panickedAtBoot(boot, upSeconds) {
  return boot.panicked && !boot.exit && !boot.timedOut && upSeconds === null;
}

/** The first failure in one line, with the verifier's reason when a BPF load was refused. */
function firstFailure(cell) {
  const f = cell.failures[0];
  if (!f) return '';
  const lines = f.message.split('\n');
  const at = lines.findIndex((l) => /^processed \d+ insns/.test(l));
  const why = at > 0 ? ` [verifier: ${lines.slice(Math.max(0, at - 2), at).join(' / ')}]` : '';
  return `${f.title}: ${lines[0]}${why}`;
}

const cellText = (c) => (c.ran ? `${c.passed} passed, ${c.failed} failed (${Math.round(c.wallSeconds ?? c.seconds)} s)` : 'not run');

export function table(cells, boots = []) {
  const kernels = [...new Set(cells.map((c) => c.kernel))];
  const modes = [...new Set(cells.map((c) => c.mode))];
  const rows = [['kernel', ...modes]];
  for (const k of kernels) rows.push([k === 'host' ? `host ${release()}` : k, ...modes.map((m) => {
    const c = cells.find((x) => x.kernel === k && x.mode === m);
    return c ? cellText(c) : '-';
  })]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((v, i) => v.padEnd(widths[i])).join(' | '));
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const c of cells) {
    if (!c.ran) lines.push(`${c.kernel}/${c.mode}: not run: ${c.reason}`);
    else if (c.failed) lines.push(`${c.kernel}/${c.mode}: first failure: ${c.firstFailure}`);
  }
  for (const b of boots) {
    const up = b.upSeconds == null ? 'never up' : `up in ${b.upSeconds.toFixed(0)} s`;
    lines.push(`${b.kernel}: ${b.kver}${b.cmdline.length ? ` (${b.cmdline.join(' ')})` : ''}: ${up}, ${b.seconds.toFixed(0)} s in all`);
  }
  return `kernel matrix (${GUEST_TESTS.files.map((f) => f.split('/').pop()).join(', ')})\n${lines.join('\n')}`;
}

/** [{ kernel, mode }] of a run: each kernel's modes, kept to `only` if given (not the host's). */
export function plan(kernels, only) {
  return kernels.flatMap((k) => kernelModes(k).filter((m) => k === 'host' || !only || only.includes(m)).map((mode) => ({ kernel: k, mode })));
}

/** Cells for `kernels` (labels of KERNELS, or 'host'), each in its modes kept to `only`. */
export async function runMatrix(kernels, only) {
  const cells = [];
  const boots = [];
  const cellsOf = plan(kernels, only);
  const modesOf = (k) => cellsOf.filter((c) => c.kernel === k).map((c) => c.mode);
  if (kernels.includes('host')) cells.push(hostCell(HOST_MODE));
  const guests = kernels.filter((k) => k !== 'host' && modesOf(k).length);
  if (guests.length) {
    try {
      ensureHostPackages();
      buildFixturesOnHost();
    } catch (err) {
      for (const k of guests) cells.push(...modesOf(k).map((m) => notRun(k, m, err.message)));
      return { cells, boots };
    }
  }
  // Every kernel fetched first: a download is synchronous, and would stall a running guest's
  // console (and with it the guest). A kernel that cannot be had fails its own cells only.
  const prepared = new Map();
  for (const label of guests) {
    try {
      prepared.set(label, prepare(label));
    } catch (err) {
      prepared.set(label, err);
    }
  }
  // A guest's job is mostly one busy thread (TCG emulates its CPUs on threads of their own), so
  // GUEST_JOBS guests run side by side; the longest first.
  const queue = [...guests].sort((a, b) => modesOf(b).length - modesOf(a).length);
  const results = new Map();
  const worker = async () => {
    for (let label; (label = queue.shift()); ) results.set(label, await guestCells(label, modesOf(label), prepared.get(label)));
  };
  await Promise.all(Array.from({ length: Math.min(GUEST_JOBS, guests.length) }, worker));
  for (const label of guests) {
    const r = results.get(label);
    cells.push(...r.cells);
    if (r.boot) boots.push(r.boot);
  }
  for (const c of cells) c.firstFailure = firstFailure(c);
  return { cells, boots };
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { kernel: { type: 'string' }, mode: { type: 'string' }, json: { type: 'string' }, list: { type: 'boolean' } },
  });
  const list = (v) => v?.split(',').map((x) => x.trim()).filter(Boolean);
  const kernels = list(values.kernel ?? process.env.WXWATCH_GUEST_KERNELS) ?? ['host', ...Object.keys(KERNELS)];
  const only = list(values.mode ?? process.env.WXWATCH_GUEST_MODES);
  try {
    kernels.forEach(kernelModes); // an unknown label fails here, naming the known ones
  } catch (err) {
    console.error(`wxwatch guest: ${err.message}`);
    process.exit(2);
  }
  if (values.list) {
    // The cells a run would produce, for the mocha file to declare one test each.
    console.log(JSON.stringify(plan(kernels, only)));
    return;
  }
  if (positionals.length) {
    // Any command, in the first kernel named: for poking at a guest by hand.
    ensureHostPackages();
    const label = kernels.find((k) => k !== 'host');
    if (!label) throw new Error('--kernel must name a guest kernel to run a command in');
    const boot = await bootGuest({ ...prepare(label), argv: positionals, cwd: process.cwd(), timeoutMs: bootTimeoutMs(1) });
    // The console without kernel messages and the firmware's terminal escapes.
    const text = readFileSync(boot.log, 'utf8').replace(/\x1b(\[[0-9;?]*[A-Za-z]|c)/g, '');
    process.stdout.write(`${text.split('\n').filter((l) => !l.startsWith('[')).join('\n')}\n`);
    rmSync(boot.resultsDir, { recursive: true, force: true });
    process.exit(boot.exit?.code ?? 1);
  }
  const result = await runMatrix(kernels, only);
  console.log(table(result.cells, result.boots));
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
  process.exit(result.cells.every((c) => c.ran && c.failed === 0) ? 0 : 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
