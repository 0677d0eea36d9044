// Drain capacity: how many records per second leave a ring that the injector keeps full.
// (a) the plain C consumer (the ceiling), (b) a started Sensor with only a 'batch' listener,
// (c) a started Sensor with only a 'finding' listener (TRC-104 findings per second).
import type { Helpers } from './build';
import type { Sensor } from '../lib/index';
import { baselineLibrary, BASELINE, config, log, RateMeter, round, spawnJson, StartInfo, withSensor } from './helpers';

interface BaselineOut {
  injected: number;
  failed: number;
  consumed: number;
  seconds: number;
}

interface SensorInjectOut {
  injected: number;
  failed: number;
  seconds: number;
  mapId: number;
  startMonoNs: string;
  endMonoNs: string;
}

export interface SensorDrain {
  recordsPerSec: number;
  /** What the injector managed to write, and how often it found the ring full. */
  injectedPerSec: number;
  ringFull: number;
  drained: number;
  batches: number;
  lost: number;
  listenerErrors: number;
  /** the hook mode the sensor ended up with, and what it tried first */
  started: StartInfo;
}

export interface DrainResult {
  baselineC: number;
  batch: number;
  finding: number;
  /** BENCH_BASELINE: the other checkout's sensor, in the same run. */
  before?: { root: string; batch: number; finding: number };
  raw: {
    seconds: number;
    baselineC: { injectedPerSec: number; consumedPerSec: number; ringFull: number };
    batch: SensorDrain;
    finding: SensorDrain;
  };
}

const BASELINE_RING_BYTES = 8 << 20;

async function baseline(helpers: Helpers): Promise<DrainResult['raw']['baselineC']> {
  const args = ['baseline', String(config.drainSeconds), String(BASELINE_RING_BYTES)];
  const out = await spawnJson<BaselineOut>(helpers.injector, args).done;
  return {
    injectedPerSec: round(out.injected / out.seconds),
    consumedPerSec: round(out.consumed / out.seconds),
    ringFull: out.failed,
  };
}

/** One sensor, one kind of listener, the injector filling its ring for the phase's time. */
async function sensorDrain(helpers: Helpers, listener: 'batch' | 'finding', SensorClass?: typeof Sensor): Promise<SensorDrain> {
  // Stamping every batch is cheap; stamping every finding would be part of what is measured.
  const meter = new RateMeter(listener === 'batch' ? 1 : 4096);
  const { result, stats, started } = await withSensor(
    (sensor) => {
      if (listener === 'batch') sensor.on('batch', (b) => meter.add(b.records));
      else sensor.on('finding', () => meter.add(1));
    },
    async (_sensor, started) => {
      const args = ['sensor', String(config.drainSeconds), String(started.ringMapId)];
      return spawnJson<SensorInjectOut>(helpers.injector, args).done;
    },
    // The same ring size as the C baseline's (injector.c), so that only the consumers differ.
    { ringBufferBytes: BASELINE_RING_BYTES },
    SensorClass,
  );
  // Only arrivals inside the injection window count: not the start-up, not the backlog after.
  const rate = meter.rateWithin(BigInt(result.startMonoNs), BigInt(result.endMonoNs));
  if (rate === 0) throw new Error(`bench: the '${listener}' listener received nothing from the injector`);
  return {
    recordsPerSec: round(rate),
    injectedPerSec: round(result.injected / result.seconds),
    ringFull: result.failed,
    drained: stats.drained,
    batches: stats.batches,
    lost: stats.lost,
    listenerErrors: stats.listenerErrors,
    started,
  };
}

export async function runDrain(helpers: Helpers): Promise<DrainResult> {
  log(`drain: C baseline, ${config.drainSeconds} s`);
  const c = await baseline(helpers);
  log(`drain: sensor with a 'batch' listener, ${config.drainSeconds} s`);
  const batch = await sensorDrain(helpers, 'batch');
  log(`drain: sensor with a 'finding' listener, ${config.drainSeconds} s`);
  const finding = await sensorDrain(helpers, 'finding');
  let before: DrainResult['before'];
  if (BASELINE) {
    log(`drain: the baseline's sensor (${BASELINE}), 'batch' then 'finding' listener`);
    const Before = baselineLibrary()!.Sensor as unknown as typeof Sensor;
    const b = await sensorDrain(helpers, 'batch', Before);
    const f = await sensorDrain(helpers, 'finding', Before);
    before = { root: BASELINE, batch: b.recordsPerSec, finding: f.recordsPerSec };
  }
  return {
    baselineC: c.consumedPerSec,
    batch: batch.recordsPerSec,
    finding: finding.recordsPerSec,
    ...(before ? { before } : {}),
    raw: { seconds: config.drainSeconds, baselineC: c, batch, finding },
  };
}
