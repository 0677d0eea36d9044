// What enforcement costs the processes outside its scope (issue 16: ≤ 1.02×): mprotect pairs
// that gain X (RW→RX→RW: what the BPF LSM's file_mprotect judges before it finds the process is
// not in the scope) and mmap+munmap pairs, timed under the sensor in lsm-hook mode auditing, and
// enforcing on a scope this process is not in, rounds alternating. Needs BPF LSM: the guests.
// Runnable alone: `node dist/bench/enforce-cost.js` (prints JSON).
import { execFileSync } from 'node:child_process';
import type { Helpers } from './build';
import { buildHelpers } from './build';
import { config, log, round, spawnJson, withSensor } from './helpers';
import type { SensorOptions } from '../lib/options';

type Call = 'match' | 'nomatch' | 'mmap';
const CALLS: Call[] = ['match', 'nomatch', 'mmap'];

export interface EnforceCostResult {
  kernel: string;
  iterations: number;
  rounds: number;
  /** fastest ns/call enforcing / fastest auditing, per call */
  ratio: Record<Call, number>;
  nsPerCall: Record<Call, { audit: number; enforce: number }>;
}

async function timeAll(helpers: Helpers, n: number): Promise<Record<Call, number>> {
  const out = {} as Record<Call, number>;
  for (const call of CALLS) {
    const args = call === 'mmap' ? [call, String(n)] : [call, String(n / 2)]; // pairs: 2 calls each
    out[call] = (await spawnJson<{ nsPerCall: number }>(helpers.mprotectLoop, args).done).nsPerCall;
  }
  return out;
}

export async function runEnforceCost(helpers: Helpers): Promise<EnforceCostResult> {
  const n = config.quick ? 20_000 : 400_000;
  const rounds = config.quick ? 2 : 5;
  const audit: SensorOptions = { mode: 'lsm-hook' };
  // a scope no process of this run is in (true is never run here): every call is judged "not ours" by the LSM programs
  const enforce: SensorOptions = { mode: 'lsm-hook', enforce: true, scope: { exes: ['/usr/bin/true'] } };
  const sides: Record<'audit' | 'enforce', Array<Record<Call, number>>> = { audit: [], enforce: [] };
  for (let r = 0; r < rounds; r++) {
    log(`enforce cost: round ${r + 1}/${rounds}`);
    // alternate which side goes first, so that drift does not land on one side
    for (const side of r % 2 === 0 ? (['audit', 'enforce'] as const) : (['enforce', 'audit'] as const)) {
      sides[side].push((await withSensor(() => {}, () => timeAll(helpers, n), side === 'audit' ? audit : enforce)).result);
    }
  }
  const result: EnforceCostResult = {
    kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
    iterations: n,
    rounds,
    ratio: {} as Record<Call, number>,
    nsPerCall: {} as EnforceCostResult['nsPerCall'],
  };
  for (const call of CALLS) {
    // the fastest run of each side: the least disturbed one says what the call costs
    const a = Math.min(...sides.audit.map((x) => x[call]));
    const e = Math.min(...sides.enforce.map((x) => x[call]));
    result.nsPerCall[call] = { audit: round(a), enforce: round(e) };
    result.ratio[call] = round(e / a);
  }
  return result;
}

if (require.main === module) {
  runEnforceCost(buildHelpers())
    .then((r) => console.log(JSON.stringify(r, null, 2)))
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    });
}
