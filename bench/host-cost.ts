// What the sensor costs the rest of the host: calls that have nothing to do with W→X, timed
// without a sensor and with one attached, in each mode that starts here, runs alternating. A
// cheap system call (getppid) shows any per-syscall hook (there is none: no syscall
// tracepoint); an mmap+munmap pair shows the mmap_lock tracepoints of the tracepoint mode; a
// fork+exec+wait of /bin/true, every mapping a new process makes (issue 17: ≤ 1.02×).
// Runnable alone (`node dist/bench/host-cost.js`), e.g. inside a guest kernel.
import { execFileSync } from 'node:child_process';
import type { Helpers } from './build';
import { buildHelpers } from './build';
import { config, log, round, spawnJson, withSensor } from './helpers';
import type { SensorMode } from '../lib/options';

type Call = 'getppid' | 'mmap' | 'spawn';
const CALLS: Call[] = ['getppid', 'mmap', 'spawn'];
/** A spawn costs some thousand system calls: fewer of them per run. */
const PER_CALL: Record<Call, number> = { getppid: 1, mmap: 1, spawn: 1 / 2000 };

export interface ModeCost {
  /** fastest ns/call with the sensor / fastest without, per call */
  getppid: number;
  mmap: number;
  /** fork+exec+wait of /bin/true (absent in results from before 2026-12-03) */
  spawn: number;
  nsPerCall: Record<Call, { without: number; with: number }>;
}

export interface HostCostResult {
  kernel: string;
  iterations: number;
  rounds: number;
  /** per mode that could start; a mode that could not is absent, with its reason in skipped */
  modes: Partial<Record<SensorMode, ModeCost>>;
  skipped: Partial<Record<SensorMode, string>>;
}

async function time(helpers: Helpers, call: Call, n: number): Promise<number> {
  const child = spawnJson<{ nsPerCall: number }>(helpers.mprotectLoop, [call, String(n)]);
  return (await child.done).nsPerCall;
}

async function timeAll(helpers: Helpers, n: number): Promise<Record<Call, number>> {
  const out = {} as Record<Call, number>;
  for (const call of CALLS) out[call] = await time(helpers, call, Math.max(1, Math.round(n * PER_CALL[call])));
  return out;
}

export async function runHostCost(helpers: Helpers, modes: SensorMode[] = ['tracepoint', 'lsm-hook']): Promise<HostCostResult> {
  const n = config.quick ? 20_000 : 500_000;
  const rounds = config.quick ? 2 : 7;
  const result: HostCostResult = { kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(), iterations: n, rounds, modes: {}, skipped: {} };
  for (const mode of modes) {
    const without: Array<Record<Call, number>> = [];
    const withSensorOn: Array<Record<Call, number>> = [];
    try {
      for (let r = 0; r < rounds; r++) {
        log(`host cost: ${mode}, round ${r + 1}/${rounds}`);
        // alternate which side goes first, so that drift does not land on one side
        if (r % 2 === 0) without.push(await timeAll(helpers, n));
        withSensorOn.push((await withSensor(() => {}, () => timeAll(helpers, n), { mode })).result);
        if (r % 2 === 1) without.push(await timeAll(helpers, n));
      }
    } catch (err) {
      result.skipped[mode] = (err as Error).message.split('\n')[0];
      log(`host cost: ${mode} cannot start here: ${result.skipped[mode]}`);
      continue;
    }
    const cost = { nsPerCall: {} } as ModeCost;
    for (const call of CALLS) {
      // The fastest run of each side: on a shared 2-core VM a cheap call's time swings by a third
      // from run to run (200-270 ns for getppid with no sensor at all); the least disturbed run
      // is the one that says what the call costs.
      const w = Math.min(...without.map((x) => x[call]));
      const s = Math.min(...withSensorOn.map((x) => x[call]));
      cost.nsPerCall[call] = { without: round(w), with: round(s) };
      cost[call] = round(s / w);
    }
    result.modes[mode] = cost;
  }
  return result;
}

if (require.main === module) {
  runHostCost(buildHelpers())
    .then((r) => console.log(JSON.stringify(r, null, 2)))
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    });
}
