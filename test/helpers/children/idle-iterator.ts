// An async iterator whose consumer takes one finding and then stalls, during a storm: prints RSS
// before and after and the sensor's counts. Memory must stay bounded by the iterator's
// maxQueued, the rest dropped.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Sensor } from '../../../lib/sensor';

async function main(): Promise<void> {
  const [stormProgram, secondsArg, maxQueuedArg] = process.argv.slice(2);
  const sensor = new Sensor({ dedup: false });
  let droppedEvents = 0;
  sensor.on('dropped', ({ dropped }) => (droppedEvents += dropped));
  sensor.start();
  const iterator = sensor.findings({ maxQueued: Number(maxQueuedArg ?? 1000) });
  void iterator.next(); // the one finding the consumer takes before it stalls
  await new Promise((r) => setTimeout(r, 200));
  const rssStart = process.memoryUsage.rss();
  let rssMax = rssStart;
  const sample = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage.rss())), 100);
  const storm = spawn(stormProgram, ['match', '0', secondsArg ?? '3'], { stdio: 'ignore' });
  await once(storm, 'exit');
  clearInterval(sample);
  const stats = await sensor.close();
  const mb = (n: number) => Math.round(n / 1e5) / 10;
  process.stdout.write(
    `${JSON.stringify({ rssStartMB: mb(rssStart), rssMaxMB: mb(rssMax), findings: stats.findings, dropped: stats.dropped, droppedEvents, lost: stats.lost })}\n`,
  );
}

void main();
