// Memory of the sensor process (this one) through a long storm: RSS once a second. "start" is
// taken after a warm-up, when the ring, batch buffers and JIT have settled; a steady end is the
// sign that back-pressure holds and batches are freed, a climb is a leak or an unbounded queue.
import type { Helpers } from './build';
import { config, log, round, withSensor } from './helpers';
import { stormLoops } from './storm';

export interface RssResult {
  start: number;
  end: number;
  peak: number;
  /** Before the sensor started: what the bench process itself holds. */
  beforeSensor: number;
  warmupSeconds: number;
  seconds: number;
  findings: number;
  /** RSS in MB once a second from the end of the warm-up. */
  samples: number[];
}

const mb = (bytes: number) => round(bytes / (1 << 20), 4);

export async function runMemory(helpers: Helpers): Promise<RssResult> {
  const total = config.rssWarmupSeconds + config.rssSeconds;
  log(`memory: storm of ${total} s (${config.rssWarmupSeconds} s warm-up), RSS once a second`);
  const beforeSensor = mb(process.memoryUsage.rss());
  const samples: number[] = [];
  let findings = 0;
  await withSensor(
    (sensor) => sensor.on('finding', () => void findings++),
    async () => {
      const loops = stormLoops(helpers, total, () => undefined);
      // Timers still fire between batches, if late under load; the index, not the clock, says
      // which sample is which, and a late one only shifts it.
      const started = Date.now();
      const timer = setInterval(() => {
        if (Date.now() - started >= config.rssWarmupSeconds * 1000) samples.push(mb(process.memoryUsage.rss()));
      }, 1000);
      try {
        await Promise.all(loops.map((c) => c.done));
      } finally {
        clearInterval(timer);
      }
      samples.push(mb(process.memoryUsage.rss())); // the end, while the sensor still runs
    },
    { dedup: false }, // every transition through the ring, the batches and JS: the most to hold
  );
  return {
    start: samples[0],
    end: samples[samples.length - 1],
    peak: Math.max(...samples),
    beforeSensor,
    warmupSeconds: config.rssWarmupSeconds,
    seconds: config.rssSeconds,
    findings,
    samples,
  };
}
