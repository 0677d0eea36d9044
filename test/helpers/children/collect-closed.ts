// Run with --expose-gc: starts and closes sensors, then collects; prints how many were
// finalised. A closed sensor must leave nothing native holding it.
import { Sensor } from '../../../lib/sensor';

// Its own function, so that no frame of main() still holds the last sensor.
async function startAndClose(registry: FinalizationRegistry<number>, i: number): Promise<void> {
  const sensor = new Sensor();
  sensor.on('finding', () => {});
  sensor.start();
  await sensor.close();
  registry.register(sensor, i);
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 40);
  let finalized = 0;
  const registry = new FinalizationRegistry(() => finalized++);
  for (let i = 0; i < count; i++) await startAndClose(registry, i);
  for (let i = 0; i < 10 && finalized < count; i++) {
    global.gc!();
    await new Promise((r) => setTimeout(r, 50));
  }
  process.stdout.write(`${JSON.stringify({ count, finalized })}\n`);
}

void main();
