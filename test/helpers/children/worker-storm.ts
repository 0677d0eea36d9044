// A Sensor inside a worker_thread with a slow listener, terminated while a storm runs, a few
// rounds in a row. The process must survive each: prints {"rounds": N} and exits 0.
import { spawn } from 'node:child_process';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { Sensor } from '../../../lib/sensor';

function inWorker(): void {
  const sensor = new Sensor({ dedup: false });
  let findings = 0;
  sensor.on('finding', () => {
    const until = Date.now() + 2;
    while (Date.now() < until); // a slow consumer: batches queue up natively
    if (++findings === 1) parentPort!.postMessage('finding');
  });
  sensor.start();
  parentPort!.postMessage('started');
}

async function main(): Promise<void> {
  const [stormProgram, roundsArg] = process.argv.slice(2);
  const rounds = Number(roundsArg ?? 3);
  // Long enough for slow loads on a busy machine; killed as soon as the rounds are done.
  const storm = spawn(stormProgram, ['match', '0', '60'], { stdio: 'ignore' });
  for (let i = 0; i < rounds; i++) {
    const worker = new Worker(__filename);
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m) => m === 'finding' && resolve());
      worker.on('error', reject);
    });
    await new Promise((r) => setTimeout(r, 200));
    await worker.terminate();
  }
  storm.kill();
  process.stdout.write(`${JSON.stringify({ rounds })}\n`);
}

if (isMainThread) void main();
else inWorker();
