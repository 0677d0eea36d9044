// What every benchmark phase shares: paths, the run's settings, child processes that answer in
// JSON, a sensor that is always closed again, and small statistics.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Sensor, SensorOptions, SensorStats } from '../lib/index';

// dist/bench/*.js → the repository root
export const ROOT = path.resolve(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bench', 'bin');
export const RESULTS = path.join(ROOT, 'bench', 'results');

function envSeconds(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`bench: ${name} must be a positive number, got "${raw}"`);
  return value;
}

const quick = process.env.BENCH_QUICK === '1';

/** BENCH_BASELINE=DIR: another checkout (built: dist/ and build/) whose library and CLI some
 * phases run too, in the same run, so that before and after compare on a busy machine. */
export const BASELINE = process.env.BENCH_BASELINE ? path.resolve(process.env.BENCH_BASELINE) : undefined;

/** The baseline's library, loaded beside this one (its own addon). */
export function baselineLibrary(): typeof import('../lib/index') | undefined {
  return BASELINE ? (require(path.join(BASELINE, 'dist', 'lib', 'index.js')) as typeof import('../lib/index')) : undefined;
}

/** Phase sizes. BENCH_QUICK=1 shrinks all of them for a smoke run; explicit variables win. */
export const config = {
  quick,
  microTimeMs: quick ? 100 : 1000,
  drainSeconds: quick ? 1 : 3,
  overheadRounds: quick ? 1 : 5,
  overheadIterations: quick ? 10_000 : 30_000,
  stormSeconds: envSeconds('BENCH_STORM_SECONDS', quick ? 2 : 10),
  stormProcesses: 2,
  latencyTransitions: quick ? 50 : 200,
  latencyIntervalMs: 10,
  rssWarmupSeconds: quick ? 1 : 5,
  rssSeconds: envSeconds('BENCH_RSS_SECONDS', quick ? 5 : 60),
  cliSeconds: envSeconds('BENCH_CLI_SECONDS', quick ? 2 : 5),
} as const;

/** Node's clock for every arrival: uv_hrtime reads CLOCK_MONOTONIC, as the C helpers do. */
export const monoNs = (): bigint => process.hrtime.bigint();

export interface Child<T> {
  pid: number;
  /** The child's one JSON line, parsed; rejects if it fails or prints something else. */
  done: Promise<T>;
}

/** Starts a helper without a shell and without blocking the event loop, which must keep
 * delivering batches while the helper runs. */
export function spawnJson<T>(file: string, args: string[]): Child<T> {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`bench: could not start ${file}`);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const done = new Promise<T>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const what = `${path.basename(file)} ${args.join(' ')}`;
      if (code !== 0) return reject(new Error(`bench: ${what} failed (${signal ?? `exit ${code}`}): ${err.trim()}`));
      try {
        resolve(JSON.parse(out) as T);
      } catch {
        reject(new Error(`bench: ${what} printed no JSON: ${out.slice(0, 200)}`));
      }
    });
  });
  return { pid: child.pid, done };
}

export type { StartInfo } from '../lib/native';
import type { StartInfo } from '../lib/native';

/** Runs body with a started sensor and closes it whatever happens; listeners go on in setup,
 * before start(), so that nothing delivered early is missed. */
export async function withSensor<T>(
  setup: (sensor: Sensor) => void,
  body: (sensor: Sensor, started: StartInfo) => Promise<T>,
  options: SensorOptions = {},
  SensorClass: typeof Sensor = Sensor,
): Promise<{ result: T; stats: SensorStats; started: StartInfo }> {
  const sensor = new SensorClass(options);
  setup(sensor);
  const started = sensor.start();
  let result: T;
  try {
    result = await body(sensor, started);
  } catch (err) {
    await sensor.close();
    throw err;
  }
  // close() delivers everything still in the ring before it resolves
  return { result, stats: await sensor.close(), started };
}

/** Counts arrivals and stamps them now and then, so a rate can be taken over an exact window
 * without a clock read per record. */
export class RateMeter {
  count = 0;
  private readonly marks: Array<[bigint, number]> = [];
  private nextMark = 0;
  constructor(private readonly every: number) {}

  add(n: number): void {
    this.count += n;
    if (this.count >= this.nextMark) {
      this.marks.push([monoNs(), this.count]);
      this.nextMark = this.count + this.every;
    }
  }

  /** Records per second between the first and last stamp inside [startNs, endNs]. */
  rateWithin(startNs: bigint, endNs: bigint): number {
    const inside = this.marks.filter(([t]) => t >= startNs && t <= endNs);
    if (inside.length < 2) return 0;
    const [t0, c0] = inside[0];
    const [t1, c1] = inside[inside.length - 1];
    return t1 > t0 ? ((c1 - c0) * 1e9) / Number(t1 - t0) : 0;
  }
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Linear interpolation between order statistics. */
export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/** Rounds for the report: figures keep three significant digits, enough for noisy runs. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value) || value === 0) return value;
  const scale = 10 ** Math.max(0, digits - 1 - Math.floor(Math.log10(Math.abs(value))));
  return Math.round(value * scale) / scale;
}

export function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}
