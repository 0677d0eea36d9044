// The run's output: one table for people, bench/results/latest.json and a dated copy for
// comparing runs over time.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CliResult, CliRun } from './cli';
import type { DrainResult } from './drain';
import { RESULTS } from './helpers';
import type { LatencyResult } from './latency';
import type { MachineInfo } from './machine';
import type { RssResult } from './memory';
import type { MicroResult } from './micro';
import type { OverheadResult } from './overhead';
import type { StormResult } from './storm';

export interface Results {
  drain: DrainResult;
  /** Absent in runs from before the CLI phase existed. */
  cli?: CliResult;
  overhead: OverheadResult;
  storm: StormResult;
  latency: LatencyResult;
  rssMb: RssResult;
  micro: MicroResult;
  machine: MachineInfo;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, d = 2) => n.toFixed(d);

type Row = [string, string, string];

function microRows(m: MicroResult): Row[] {
  return [
    ...m.tasks.map((t): Row => ['micro', t.name, `${fixed(t.nsPerRecord, 1)} ns/record`]),
    ...(m.json
      ? ([
          ['json', 'detectionJson per finding (target ≤ 2 µs)', `${fixed(m.json.usPerFinding, 2)} µs (${m.json.bytesPerLine} bytes)`],
          ['json', 'JSON.stringify of the same object', `${fixed(m.json.stringifyUsPerFinding, 2)} µs`],
          ['json', 'ratio (target ≤ 0.25)', `${fixed(m.json.ratio, 3)}×`],
          ...(m.json.bytesUsPerFinding !== undefined
            ? ([
                ['json', "as bytes, the CLI's path", `${fixed(m.json.bytesUsPerFinding, 2)} µs (${fixed(m.json.bytesRatio, 3)}× JSON.stringify)`],
              ] as Row[])
            : []),
          ['micro', "'finding' listener from the batch callback (target ≥ 10 M/s)", `${int(m.findingListenerPerSec)} findings/s`],
          ...(m.before
            ? ([
                ['json', `baseline detectionJson (${m.before.root})`, `${fixed(m.before.jsonUsPerFinding, 2)} µs`],
                ['micro', "baseline 'finding' listener", `${int(m.before.findingListenerPerSec)} findings/s`],
              ] as Row[])
            : []),
        ] as Row[])
      : []),
  ];
}

function drainRows(d: DrainResult): Row[] {
  return [
    ['drain', 'C baseline (libbpf consumer)', `${int(d.baselineC)} rec/s`],
    ['drain', "Sensor 'batch' listener (target ≥ 80% of C)", `${int(d.batch)} rec/s (${fixed((100 * d.batch) / d.baselineC, 0)}%)`],
    ['drain', "Sensor 'finding' listener (TRC-104)", `${int(d.finding)} findings/s (${fixed((100 * d.finding) / d.baselineC, 0)}%)`],
    ...(d.before
      ? ([
          ['drain', `baseline 'batch' / 'finding' listener (${d.before.root})`, `${int(d.before.batch)} (${fixed((100 * d.before.batch) / d.baselineC, 0)}%) / ${int(d.before.finding)} (${fixed((100 * d.before.finding) / d.baselineC, 0)}%)`],
        ] as Row[])
      : []),
  ];
}

function cliRows(c: CliResult): Row[] {
  const rows = (runs: CliRun[], label: string) => runs.map((x): Row => [
    label,
    `--no-dedup > ${x.target === 'file' ? 'file' : '/dev/null'}, ${x.rate ? `${int(x.rate)} W→X/s` : 'injector (full speed)'}`,
    `${int(x.lines)} lines (${int(x.linesPerSec)}/s), lost ${int(x.lost)}, dropped ${int(x.dropped)}, ` +
      `${fixed(x.cpuUsPerFinding, 1)} µs CPU/finding (${int(x.linesPerCpuSec)} lines/CPU-s), RSS peak ${fixed(x.rssPeakMb, 0)} MB`,
  ]);
  return [...rows(c.runs, 'cli'), ...(c.baseline ? rows(c.baseline.runs, 'cli (baseline)') : [])];
}

function rows(r: Partial<Results>): Row[] {
  const o = r.overhead;
  const s = r.storm;
  return [
    ...(r.micro ? microRows(r.micro) : []),
    ...(r.drain ? drainRows(r.drain) : []),
    ...(r.cli ? cliRows(r.cli) : []),
    ...(o ? overheadRows(o) : []),
    ...(s ? stormRows(s) : []),
    ...(r.latency
      ? ([
          ['latency', `mprotect → 'finding' p50 / p99 (${r.latency.transitions})`, `${fixed(r.latency.p50Ms, 3)} / ${fixed(r.latency.p99Ms, 3)} ms`],
          ['latency', 'max, missing', `${fixed(r.latency.maxMs, 3)} ms, ${r.latency.missing}`],
        ] as Row[])
      : []),
    ...(r.rssMb
      ? ([
          ['rss', `start → end (${r.rssMb.seconds} s storm)`, `${fixed(r.rssMb.start, 1)} → ${fixed(r.rssMb.end, 1)} MB`],
          ['rss', 'peak', `${fixed(r.rssMb.peak, 1)} MB`],
        ] as Row[])
      : []),
  ];
}

function overheadRows(o: OverheadResult): Row[] {
  return [
    ['overhead', 'match: ns/call without → with (dedup off)', `${fixed(o.nsPerCall.match.without, 0)} → ${fixed(o.nsPerCall.match.with, 0)}`],
    ['overhead', 'match: ratio (median with / without)', `${fixed(o.match, 3)}×`],
    ['overhead', 'match, default options (dedup): ns/call, ratio', `${fixed(o.nsPerCall.match.withDedup, 0)}, ${fixed(o.matchDedup, 3)}×`],
    ['overhead', 'no match: ns/call without → with', `${fixed(o.nsPerCall.nonMatch.without, 0)} → ${fixed(o.nsPerCall.nonMatch.with, 0)}`],
    ['overhead', 'no match: ratio', `${fixed(o.nonMatch, 3)}×`],
    ...Object.entries(o.hostSyscall?.modes ?? {}).flatMap(([mode, c]): Array<[string, string, string]> => [
      ['overhead', `hostSyscall, ${mode}: getppid ns without → with`, `${fixed(c!.nsPerCall.getppid.without, 0)} → ${fixed(c!.nsPerCall.getppid.with, 0)} (${fixed(c!.getppid, 3)}×)`],
      ['overhead', `hostSyscall, ${mode}: mmap+munmap ns without → with`, `${fixed(c!.nsPerCall.mmap.without, 0)} → ${fixed(c!.nsPerCall.mmap.with, 0)} (${fixed(c!.mmap, 3)}×)`],
      ...(c!.nsPerCall.spawn
        ? ([['overhead', `hostSyscall, ${mode}: fork+exec+wait µs without → with (target ≤ 1.02×)`, `${fixed(c!.nsPerCall.spawn.without / 1000, 0)} → ${fixed(c!.nsPerCall.spawn.with / 1000, 0)} (${fixed(c!.spawn, 3)}×)`]] as Array<[string, string, string]>)
        : []),
    ]),
    ['overhead', `wxfix flip ${o.iterations}: ms without → with`, `${fixed(o.wxfixFlip.withoutMs, 0)} → ${fixed(o.wxfixFlip.withMs, 0)} (${fixed(o.wxfixFlip.ratio, 3)}×)`],
  ];
}

function stormRows(s: StormResult): Row[] {
  return [
    ['storm', `no sensor: transitions (${s.processes} procs, ${fixed(s.withoutSensor.seconds, 1)} s)`, int(s.withoutSensor.transitions)],
    ['storm', 'dedup off: transitions (same time)', int(s.transitions)],
    ['storm', 'findings delivered', `${int(s.findings)} (${int(s.findingsPerSec)}/s)`],
    ['storm', 'lost (ring full)', int(s.lost)],
    ['storm', 'suppressed', int(s.suppressed)],
    ['storm', 'throttled (counted into summary records)', int(s.throttled ?? 0)],
    ['storm', 'unaccounted', int(s.unaccounted)],
    ['storm', 'dedup on: transitions / findings', `${int(s.withDedup.transitions)} / ${int(s.withDedup.findings)}`],
    ['storm', 'dedup on: suppressed / lost / unaccounted', `${int(s.withDedup.suppressed)} / ${int(s.withDedup.lost)} / ${int(s.withDedup.unaccounted)}`],
  ];
}

export function printTable(r: Partial<Results> & { machine: MachineInfo }): void {
  const table = rows(r);
  const w0 = Math.max(...table.map((t) => t[0].length));
  const w1 = Math.max(...table.map((t) => t[1].length));
  const m = r.machine;
  console.log(`\nwxwatch bench — node ${m.node}, kernel ${m.kernel}, ${m.cpus} CPUs, ${m.date}${m.quick ? ' (BENCH_QUICK)' : ''}`);
  if (r.drain) console.log(`  hook mode: ${r.drain.raw.batch.started.mode}`);
  // the load each phase saw: the storm phases make ~2 themselves; much more is someone else
  console.log(`  load avg (1 min) per phase: ${m.phases.map((p) => `${p.name} ${p.loadAvg1.start}→${p.loadAvg1.end}`).join(', ')}`);
  let section = '';
  for (const [s, name, value] of table) {
    if (s !== section && section) console.log('');
    section = s;
    console.log(`  ${s.padEnd(w0)}  ${name.padEnd(w1)}  ${value}`);
  }
  if (m.foreignSensors.length) {
    const when = m.foreignSensors.map((f) => f.phase).join(', ');
    const who = [...new Set(m.foreignSensors.flatMap((f) => f.owners.map((o) => `${o.comm} ${o.pid}`)))].join(', ');
    console.log(`\n  WARNING: another wxwatch sensor was attached (${who || 'owner unknown'}) at: ${when}.`);
    console.log('  Its hooks run on every mprotect: figures near those phases are skewed, the overhead ones most.');
  }
  console.log('');
}

/** Writes latest.json and YYYY-MM-DD.json (UTC date); a partial run (some phases only) writes
 * YYYY-MM-DD-LABEL.json alone. Returns the paths. */
export function writeResults(r: Partial<Results> & { machine: MachineInfo }, label?: string): string[] {
  mkdirSync(RESULTS, { recursive: true });
  const json = `${JSON.stringify(r, null, 2)}\n`;
  const day = r.machine.date.slice(0, 10);
  const files = label ? [path.join(RESULTS, `${day}-${label}.json`)] : [path.join(RESULTS, 'latest.json'), path.join(RESULTS, `${day}.json`)];
  for (const file of files) writeFileSync(file, json);
  return files;
}
