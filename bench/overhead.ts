// Overhead on the watched process: the cost of an mprotect call without a sensor and with one
// attached and consuming, for calls that match (RW→RX→RW) and calls that do not (RW→R→RW, no
// EXEC: the enter hook returns at its first test). Runs alternate, and the order inside a round
// rotates each time, so that drift in the machine's speed does not land on one side.
//
// "with" runs the sensor with dedup off: every transition is judged, written, drained and
// delivered, the per-record cost. "withDedup" runs it with the default options, where a process
// that keeps flipping anonymous memory yields one finding and the rest are suppressed in the
// kernel: what most users pay.
import type { Helpers } from './build';
import type { HostCostResult } from './host-cost';
import { config, log, median, monoNs, round, spawnJson, withSensor } from './helpers';

interface LoopOut {
  pid: number;
  calls: number;
  transitions: number;
  nsPerCall: number;
}

type Variant = 'without' | 'with' | 'withDedup';

interface Run {
  variant: Variant;
  match: number;
  nonMatch?: number;
  wxfixMs?: number;
  /** findings the sensor delivered for the matching loop and for wxfix (expected: iterations) */
  saw?: { match: number; wxfix?: number };
}

export interface OverheadResult {
  /** median ns/call with the sensor (dedup off) / median ns/call without */
  match: number;
  nonMatch: number;
  /** the same for matching calls with the sensor's default options (dedup on) */
  matchDedup: number;
  iterations: number;
  rounds: number;
  nsPerCall: {
    match: { without: number; with: number; withDedup: number };
    nonMatch: { without: number; with: number };
  };
  /** What calls unrelated to W→X pay, per mode (bench/host-cost.ts); filled in by run.ts. */
  hostSyscall?: HostCostResult;
  /** `wxfix flip N` wall time (process start to exit), the fixture's own matching loop. */
  wxfixFlip: { withoutMs: number; withMs: number; ratio: number };
  runs: Run[];
}

async function loop(helpers: Helpers, mode: 'match' | 'nomatch', pids: number[]): Promise<number> {
  const child = spawnJson<LoopOut>(helpers.mprotectLoop, [mode, String(config.overheadIterations)]);
  pids.push(child.pid);
  return (await child.done).nsPerCall;
}

async function wxfixFlip(helpers: Helpers, pids: number[]): Promise<number> {
  const t0 = monoNs();
  const child = spawnJson<unknown>(helpers.wxfix, ['flip', String(config.overheadIterations)]);
  pids.push(child.pid);
  await child.done;
  return Number(monoNs() - t0) / 1e6;
}

/** One block of runs under one variant. The dedup variant only needs the matching loop. */
async function block(helpers: Helpers, variant: Variant): Promise<Run> {
  // pids in order: match loop, then (full blocks) nomatch loop, wxfix
  const pids: number[] = [];
  const body = async (): Promise<Run> => {
    const match = await loop(helpers, 'match', pids);
    if (variant === 'withDedup') return { variant, match };
    return { variant, match, nonMatch: await loop(helpers, 'nomatch', pids), wxfixMs: await wxfixFlip(helpers, pids) };
  };
  if (variant === 'without') return body();

  const perPid = new Map<number, number>();
  const { result } = await withSensor(
    (sensor) =>
      sensor.on('finding', (f) => {
        const pid = f.Event.hostProcessId;
        perPid.set(pid, (perPid.get(pid) ?? 0) + 1);
      }),
    body,
    { dedup: variant === 'withDedup' },
  );
  const seen = (pid: number | undefined) => (pid === undefined ? 0 : (perPid.get(pid) ?? 0));
  result.saw = variant === 'with' ? { match: seen(pids[0]), wxfix: seen(pids[2]) } : { match: seen(pids[0]) };
  return result;
}

export async function runOverhead(helpers: Helpers): Promise<OverheadResult> {
  const variants: Variant[] = ['without', 'with', 'withDedup'];
  const runs: Run[] = [];
  for (let n = 0; n < config.overheadRounds; n++) {
    log(`overhead: round ${n + 1}/${config.overheadRounds} (${config.overheadIterations} flips per run)`);
    for (let i = 0; i < variants.length; i++) runs.push(await block(helpers, variants[(n + i) % variants.length]));
  }
  const pick = (variant: Variant, key: 'match' | 'nonMatch' | 'wxfixMs') =>
    median(runs.filter((r) => r.variant === variant).map((r) => r[key] ?? NaN));
  const m = { without: pick('without', 'match'), with: pick('with', 'match'), withDedup: pick('withDedup', 'match') };
  const n = { without: pick('without', 'nonMatch'), with: pick('with', 'nonMatch') };
  const w = { withoutMs: pick('without', 'wxfixMs'), withMs: pick('with', 'wxfixMs') };
  const r = (v: number | undefined) => (v === undefined ? undefined : round(v));
  return {
    match: round(m.with / m.without),
    nonMatch: round(n.with / n.without),
    matchDedup: round(m.withDedup / m.without),
    iterations: config.overheadIterations,
    rounds: config.overheadRounds,
    nsPerCall: {
      match: { without: round(m.without), with: round(m.with), withDedup: round(m.withDedup) },
      nonMatch: { without: round(n.without), with: round(n.with) },
    },
    wxfixFlip: { withoutMs: round(w.withoutMs), withMs: round(w.withMs), ratio: round(w.withMs / w.withoutMs) },
    runs: runs.map((x) => ({ ...x, match: round(x.match), nonMatch: r(x.nonMatch), wxfixMs: r(x.wxfixMs) })),
  };
}
