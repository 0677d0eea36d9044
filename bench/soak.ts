// `npm run bench:soak [-- --seconds N | --minutes N] [--processes N]`: a W→X storm (dedup off,
// every transition a finding) against a consumer that reads every finding with for-await and
// keeps the last 1,000, RSS sampled once a second. A flat curve means memory is bounded under
// a consumer that holds on to findings. Default 60 s; the soak is --minutes 10. Writes
// bench/results/soak-latest.json and a dated copy.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Sensor } from '../lib/index';
import type { Finding } from '../lib/signatures/signature';
import { buildHelpers } from './build';
import { log, RESULTS, round, spawnJson } from './helpers';

const KEEP = 1000;
const WARMUP_S = 5;
const mb = (bytes: number) => round(bytes / (1 << 20), 2);

/** Least-squares slope of the samples, in MB per minute (one sample a second). */
function slopePerMinute(samples: number[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = samples.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  samples.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return round((num / den) * 60, 3);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench: the sensor needs root; run as root');
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, minutes: { type: 'string' }, processes: { type: 'string' } } });
  const seconds = values.minutes ? Number(values.minutes) * 60 : Number(values.seconds ?? 60);
  const processes = Number(values.processes ?? 1);
  if (!(seconds > 0) || !(processes >= 1)) throw new Error('bench: --seconds/--minutes and --processes must be positive');
  const helpers = buildHelpers();

  const sensor = new Sensor({ dedup: false });
  const kept: Finding[] = [];
  let next = 0;
  sensor.start();
  const consuming = (async () => {
    for await (const f of sensor) {
      kept[next] = f;
      next = (next + 1) % KEEP;
    }
  })();

  log(`soak: ${processes} storm process(es) for ${WARMUP_S} s warm-up + ${seconds} s, RSS once a second`);
  const total = WARMUP_S + seconds;
  const loops = Array.from({ length: processes }, () => spawnJson<{ transitions: number }>(helpers.mprotectLoop, ['match', '0', String(total)]));
  const samples: number[] = [];
  const began = Date.now();
  const timer = setInterval(() => {
    if (Date.now() - began >= WARMUP_S * 1000) samples.push(mb(process.memoryUsage.rss()));
  }, 1000);
  const outs = await Promise.all(loops.map((l) => l.done));
  clearInterval(timer);
  const stats = await sensor.close();
  await consuming;

  const result = {
    date: new Date().toISOString(),
    seconds,
    processes,
    kept: KEEP,
    transitions: outs.reduce((n, o) => n + o.transitions, 0),
    findings: stats.findings,
    dropped: stats.dropped,
    lost: stats.lost,
    rssMb: {
      start: samples[0],
      end: samples[samples.length - 1],
      peak: Math.max(...samples),
      slopePerMinute: slopePerMinute(samples.slice(Math.floor(samples.length / 2))),
      samples,
    },
  };
  mkdirSync(RESULTS, { recursive: true });
  const json = `${JSON.stringify(result, null, 2)}\n`;
  for (const name of ['soak-latest.json', `soak-${result.date.slice(0, 10)}-${seconds}s.json`]) writeFileSync(path.join(RESULTS, name), json);
  const r = result.rssMb;
  log(
    `soak: ${result.findings} findings (${result.dropped} dropped, ${result.lost} lost) in ${seconds} s; ` +
      `RSS ${r.start} → ${r.end} MB, peak ${r.peak}, second-half slope ${r.slopePerMinute} MB/min`,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
