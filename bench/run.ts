// `npm run bench`: builds the C helpers, runs every phase in turn, prints the table and writes
// bench/results/. Figures are reported, never judged: a slow figure is not a failure; a phase
// that cannot run is, and exits non-zero.
import { buildHelpers } from './build';
import { runCli } from './cli';
import { runDrain } from './drain';
import { config, log } from './helpers';
import { runLatency } from './latency';
import { foreignSensors, loadAvg1, machineInfo } from './machine';
import { runMemory } from './memory';
import { runMicro } from './micro';
import { runOverhead } from './overhead';
import { runHostCost } from './host-cost';
import { printTable, Results, writeResults } from './report';
import { runStorm } from './storm';

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench: the sensor needs root; run as root');
  const machine = machineInfo();
  log(`${config.quick ? 'quick smoke run' : 'full run'}; building helpers`);
  const helpers = buildHelpers();

  // Phases start and end with no sensor of ours running, so a hook found then is someone
  // else's. Looking at both ends catches most test runs that come and go in between.
  const noteForeign = (when: string) => {
    const foreign = foreignSensors(when);
    if (!foreign) return;
    machine.foreignSensors.push(foreign);
    const who = foreign.owners.map((o) => `${o.comm} ${o.pid}`).join(', ') || 'owner unknown';
    log(`warning: another wxwatch sensor is attached at ${when} (${who})`);
  };
  const phase = async <T>(name: string, body: () => Promise<T>): Promise<T> => {
    noteForeign(`${name} start`);
    const start = loadAvg1();
    const t0 = Date.now();
    const result = await body();
    const seconds = (Date.now() - t0) / 1000;
    machine.phases.push({ name, seconds, loadAvg1: { start, end: loadAvg1() } });
    noteForeign(`${name} end`);
    log(`${name} done in ${seconds.toFixed(1)} s`);
    return result;
  };

  // BENCH_PHASES=micro,cli runs only those (a partial run is printed, not written to results).
  const only = process.env.BENCH_PHASES ? new Set(process.env.BENCH_PHASES.split(',')) : undefined;
  const want = <T>(name: string, body: () => Promise<T>) => (only && !only.has(name) ? Promise.resolve(undefined) : phase(name, body));

  const micro = await want('micro', () => runMicro());
  const drain = await want('drain', () => runDrain(helpers));
  const cli = await want('cli', () => runCli(helpers));
  const overhead = await want('overhead', () => runOverhead(helpers));
  const hostSyscall = await want('host-cost', () => runHostCost(helpers));
  if (overhead && hostSyscall) overhead.hostSyscall = hostSyscall;
  const storm = await want('storm', () => runStorm(helpers));
  const latency = await want('latency', () => runLatency(helpers));
  const rssMb = await want('memory', () => runMemory(helpers));

  // the summary keys first, then the detail
  const results: Partial<Results> & { machine: typeof machine } = { drain, cli, overhead, storm, latency, rssMb, micro, machine };
  printTable(results);
  console.log(JSON.stringify(results, null, 2));
  // A partial run is kept under its own label, never as latest.json.
  const label = only ? (process.env.BENCH_LABEL ?? [...only].join('+')).replace(/[^\w.+-]/g, '_') : undefined;
  for (const file of writeResults(results, label)) log(`wrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
