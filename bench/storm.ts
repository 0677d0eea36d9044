// Storm accounting: every core busy making W→X transitions while the sensor runs. Transitions
// made (the loops count them) against findings delivered, records lost (ring full) and records
// suppressed: what a storm costs in visibility, and whether every transition is accounted for.
import type { Helpers } from './build';
import { Child, config, log, spawnJson, withSensor } from './helpers';

export interface LoopOut {
  pid: number;
  transitions: number;
  seconds: number;
  nsPerCall: number;
}

export interface StormAccounting {
  dedup: boolean;
  seconds: number;
  processes: number;
  transitions: number;
  findings: number;
  lost: number;
  suppressed: number;
  /** transitions - findings - lost - suppressed - filtered - throttled: nonzero means something
   * went missing without being counted (or, if negative, that other processes fed the counters). */
  unaccounted: number;
  /** Counted into summary records instead of their own (the kernel's fair share of a filling
   * ring); absent before the kernel had summaries. */
  throttled: number;
  filtered: number;
  noState: number;
  seen: number;
  /** Findings from processes other than ours (other W→X users on the machine). */
  otherFindings: number;
  findingsPerSec: number;
  nsPerCall: number[];
}

/** The storm with dedup off (every transition must become a finding or a counted loss), the
 * same storm with the default options (dedup on) under `withDedup`, and without any sensor:
 * what the machine itself allows (parallel mprotect is slow on some VMs, sensor or not). */
export interface StormResult extends StormAccounting {
  withDedup: StormAccounting;
  withoutSensor: { seconds: number; transitions: number; nsPerCall: number[] };
}

/** Starts one time-bound matching loop per core; every pid goes to onPid before it can act. */
export function stormLoops(helpers: Helpers, seconds: number, onPid: (pid: number) => void): Array<Child<LoopOut>> {
  return Array.from({ length: config.stormProcesses }, () => {
    const child = spawnJson<LoopOut>(helpers.mprotectLoop, ['match', '0', String(seconds)]);
    onPid(child.pid);
    return child;
  });
}

async function storm(helpers: Helpers, dedup: boolean): Promise<StormAccounting> {
  log(`storm: ${config.stormProcesses} processes flipping for ${config.stormSeconds} s, dedup ${dedup ? 'on' : 'off'}`);
  const ours = new Set<number>();
  let findings = 0;
  let others = 0;
  const { result: loops, stats } = await withSensor(
    (sensor) =>
      sensor.on('finding', (f) => {
        if (ours.has(f.Event.hostProcessId)) findings++;
        else others++;
      }),
    // Children add their pid synchronously at spawn; their findings arrive later, on the loop.
    () => Promise.all(stormLoops(helpers, config.stormSeconds, (pid) => ours.add(pid)).map((c) => c.done)),
    { dedup },
  );
  // the counters are final now: close() delivered what was left in the ring
  const transitions = loops.reduce((sum, l) => sum + l.transitions, 0);
  const seconds = Math.max(...loops.map((l) => l.seconds));
  return {
    dedup,
    seconds,
    processes: loops.length,
    transitions,
    findings,
    lost: stats.lost,
    suppressed: stats.suppressed,
    unaccounted: transitions - findings - stats.lost - stats.suppressed - stats.filtered - (stats.throttled ?? 0) - (stats.lostBusy ?? 0),
    throttled: stats.throttled ?? 0,
    filtered: stats.filtered,
    noState: stats.noState,
    seen: stats.seen,
    otherFindings: others,
    findingsPerSec: Math.round(findings / seconds),
    nsPerCall: loops.map((l) => l.nsPerCall),
  };
}

async function bare(helpers: Helpers): Promise<StormResult['withoutSensor']> {
  log(`storm: ${config.stormProcesses} processes flipping for ${config.stormSeconds} s, no sensor`);
  const loops = await Promise.all(stormLoops(helpers, config.stormSeconds, () => undefined).map((c) => c.done));
  return {
    seconds: Math.max(...loops.map((l) => l.seconds)),
    transitions: loops.reduce((sum, l) => sum + l.transitions, 0),
    nsPerCall: loops.map((l) => l.nsPerCall),
  };
}

export async function runStorm(helpers: Helpers): Promise<StormResult> {
  const withoutSensor = await bare(helpers);
  const perRecord = await storm(helpers, false);
  return { ...perRecord, withDedup: await storm(helpers, true), withoutSensor };
}
