// The command end to end: `wxwatch --no-dedup` with stdout on /dev/null or on a regular file,
// while one process makes W→X transitions at a fixed rate. Per run: lines out, lines/s, the
// sensor process's CPU per finding (every thread: drainer, JS, libuv) over the window after a
// warm-up, lost (ring full) and dropped (output), from the CLI's own summary. A last run fills
// the CLI's ring with the injector for the most lines per CPU second the command can write.
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Helpers } from './build';
import { config, log, ROOT, round, spawnJson } from './helpers';

const cliOf = (root: string) => path.join(root, 'dist', 'lib', 'cli.js');
const TICKS_PER_SEC = 100; // USER_HZ: /proc/PID/stat's unit on Linux
const WARMUP_SECONDS = 1;
const WARMUP_RATE = 5000;

export interface CliRun {
  target: 'devnull' | 'file';
  /** W→X pairs per second asked of the generator (0: the injector, at full speed). */
  rate: number;
  seconds: number;
  transitions: number;
  /** Findings of the measured window (the generator's; or the injector's records). */
  findings: number;
  /** Injected before the window to warm the JIT up; not counted in the figures. */
  warmupLines: number;
  /** Lines the target received (a file: counted; /dev/null: findings written, by the summary). */
  lines: number;
  linesPerSec: number;
  lost: number;
  dropped: number;
  /** CPU time of the sensor process over the run (all threads) per finding, and its inverse. */
  cpuUsPerFinding: number;
  linesPerCpuSec: number;
  rssPeakMb: number;
}

export interface CliResult {
  seconds: number;
  runs: CliRun[];
  /** BENCH_BASELINE=DIR: the same runs with another checkout's CLI (its dist/ and build/),
   * interleaved with these, so that the two compare within one run on a busy machine. */
  baseline?: { root: string; runs: CliRun[] };
}

interface Summary {
  findings: number;
  lost: number;
  dropped: number;
  seen: number;
}

function cpuSeconds(pid: number): number {
  // after "(comm)": state is field 3; utime and stime are fields 14 and 15
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC;
}

function rssPeakMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function parseSummary(stderr: string): Summary {
  const line = /stopped; (.*)$/m.exec(stderr)?.[1];
  if (!line) throw new Error(`bench: the CLI printed no summary: ${stderr.slice(-500)}`);
  const n = (name: string) => Number(new RegExp(`\\b${name} (\\d+)`).exec(line)?.[1] ?? NaN);
  return { findings: n('findings'), lost: n('lost'), dropped: n('dropped'), seen: n('seen') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The CLI with stdout on `fd`; resolves once it says it is watching. */
async function startCli(cli: string, args: string[], fd: number) {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', fd, 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!err.includes('watching')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`bench: the CLI did not start: ${err}`);
    await sleep(20);
  }
  return { child, exited, stderr: () => err };
}

/** The ring buffer map the sensor running as `pid` holds (its fdinfo names map type and id). */
function ringMapId(pid: number): number {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let info: string;
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:bpf-map') continue;
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const id = /^map_id:\s+(\d+)/m.exec(info)?.[1];
    if (/^map_type:\s+27$/m.test(info) && id) return Number(id); // BPF_MAP_TYPE_RINGBUF
  }
  throw new Error(`bench: no ring buffer map held by pid ${pid}`);
}

function countLines(file: string): number {
  const data = readFileSync(file);
  let n = 0;
  for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) n++;
  return n;
}

/** Waits until the sensor has been idle for a while: everything in the ring delivered. */
async function settle(pid: number): Promise<void> {
  let last = cpuSeconds(pid);
  for (let i = 0; i < 50; i++) {
    await sleep(200);
    const now = cpuSeconds(pid);
    if (now - last < 0.02) return;
    last = now;
  }
}

async function run(helpers: Helpers, root: string, target: CliRun['target'], rate: number, seconds: number): Promise<CliRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-bench-cli-'));
  try {
    // A generator of our own name: --scope watches only it, so other W→X on this shared
    // machine neither add findings nor cost the sensor CPU here.
    const name = `wxrate${process.pid % 100000}`;
    const generator = path.join(dir, name);
    copyFileSync(helpers.mprotectLoop, generator);
    const file = path.join(dir, 'out.json');
    const fd = openSync(target === 'file' ? file : '/dev/null', 'w');
    // (the injector's records bypass the kernel's filters: the scope leaves them through)
    const args = ['--no-dedup', '--scope', `comm=${name}`];
    const cli = await startCli(cliOf(root), args, fd);
    closeSync(fd);
    const pid = cli.child.pid!;
    // Warm-up: the same kind of records through the same path, slowly enough that none is
    // throttled or lost (the JIT compiles the decoder, the writers and the output once: ~0.35 s
    // of CPU), then the measured window. Its lines are taken out of the figures below.
    const warmed = (await spawnJson<{ transitions: number }>(generator, ['rate', String(WARMUP_RATE), String(WARMUP_SECONDS)]).done).transitions;
    const warm = { injected: warmed };
    await settle(pid);
    const cpu0 = cpuSeconds(pid);
    let transitions: number;
    let took: number;
    if (rate) {
      const out = await spawnJson<{ transitions: number; seconds: number }>(generator, ['rate', String(rate), String(seconds)]).done;
      transitions = out.transitions;
      took = out.seconds;
    } else {
      const out = await spawnJson<{ injected: number; seconds: number }>(helpers.injector, ['sensor', String(seconds), String(ringMapId(pid))]).done;
      transitions = out.injected;
      took = out.seconds;
    }
    await settle(pid);
    const cpu = cpuSeconds(pid) - cpu0;
    const rss = rssPeakMb(pid);
    cli.child.kill('SIGINT');
    const code = await cli.exited;
    if (code !== 0) throw new Error(`bench: the CLI exited ${code}: ${cli.stderr().slice(-500)}`);
    const s = parseSummary(cli.stderr());
    const findings = s.findings - warm.injected;
    const lines = (target === 'file' ? countLines(file) : s.findings - s.dropped) - warm.injected;
    return {
      target,
      rate,
      seconds: round(took),
      transitions,
      findings,
      warmupLines: warm.injected,
      lines,
      linesPerSec: round(lines / took),
      lost: s.lost,
      dropped: s.dropped,
      cpuUsPerFinding: round((cpu * 1e6) / Math.max(1, findings)),
      linesPerCpuSec: round(lines / Math.max(cpu, 1 / TICKS_PER_SEC)),
      rssPeakMb: round(rss),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const CLI_RATES = [10_000, 20_000, 50_000];

export async function runCli(helpers: Helpers): Promise<CliResult> {
  const seconds = config.cliSeconds;
  const baseline = process.env.BENCH_BASELINE ? path.resolve(process.env.BENCH_BASELINE) : undefined;
  const runs: CliRun[] = [];
  const before: CliRun[] = [];
  const both = async (what: string, target: CliRun['target'], rate: number) => {
    log(`cli: ${what}`);
    runs.push(await run(helpers, ROOT, target, rate, seconds));
    if (baseline) {
      log(`cli: ${what} (baseline ${baseline})`);
      before.push(await run(helpers, baseline, target, rate, seconds));
    }
  };
  for (const target of ['devnull', 'file'] as const) {
    for (const rate of CLI_RATES) {
      await both(`--no-dedup > ${target === 'file' ? 'a file' : '/dev/null'}, ${rate} W→X/s for ${seconds} s`, target, rate);
    }
  }
  await both(`--no-dedup > /dev/null, the injector filling the ring for ${seconds} s`, 'devnull', 0);
  return { seconds, runs, ...(baseline ? { baseline: { root: baseline, runs: before } } : {}) };
}
