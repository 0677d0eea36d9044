// Points 2 and 4 of issue 10 without the kernel: bounded async iterators, exception-safe
// delivery and rate-limited listener warnings, against a stand-in for the addon. (Filter changes
// are all or nothing in the kernel itself: test/e2e/noise.test.ts.)
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { NativeSensor, NativeStats } from '../../lib/native';
import { NO_NATIVE_STATS, Sensor } from '../../lib/sensor';
import { Finding } from '../../lib/signatures/signature';
import { deliverBatch } from '../helpers/delivery';
import { batch, record } from '../helpers/records';

const ZERO: NativeStats = NO_NATIVE_STATS;

/** A running sensor whose addon is a stand-in; `kernel` sees each map write as it happens. */
function running(native: Partial<NativeSensor> = {}): Sensor {
  const sensor = new Sensor();
  const stopped = Promise.resolve();
  Object.assign(sensor, {
    native: { stats: () => ZERO, stop: () => stopped, detach: () => {}, setFilters: () => {}, ...native },
    state: 'running',
  });
  return sensor;
}

function findingsBatch(n: number): ArrayBuffer {
  return batch(...Array.from({ length: n }, () => record({})));
}

describe('delivery', () => {
  it('bounds an async iterator nobody advances, counting and reporting what it drops', async () => {
    const sensor = running();
    const dropped: number[] = [];
    sensor.on('dropped', ({ dropped: n }) => dropped.push(n));
    const iterator = sensor.findings({ maxQueued: 10 });
    for (let i = 0; i < 5; i++) deliverBatch(sensor, findingsBatch(100), 100);
    const stats = await sensor.close();
    assert.equal(stats.findings, 500);
    assert.equal(stats.dropped, 490);
    assert.equal(dropped.reduce((a, b) => a + b, 0), 490, "every drop reported on 'dropped'");
    let read = 0;
    for await (const f of iterator) {
      assert.ok(f.Event);
      read++;
    }
    assert.equal(read, 10, 'what was queued is still read, then the iterator ends');
  });

  it('does not let a throwing listener end a for-await consumer', async () => {
    const sensor = running();
    sensor.on('finding', () => {
      throw new Error('listener bug');
    });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const got: Finding[] = [];
      const consuming = (async () => {
        for await (const f of sensor) got.push(f);
      })();
      for (let i = 0; i < 20; i++) deliverBatch(sensor, findingsBatch(50), 50);
      await sensor.close();
      await consuming;
      await new Promise((r) => setImmediate(r));
      assert.equal(got.length, 1000);
      assert.equal(sensor.stats().listenerErrors, 1000);
      assert.ok(warnings.length <= 2, `${warnings.length} warnings for 1000 throws`);
      assert.match(warnings[0].message, /listener bug/);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('turns an exception inside delivery into an error event, never an uncaught one', async () => {
    const sensor = running();
    sensor.on('finding', () => {});
    const errors: Error[] = [];
    sensor.on('error', (e) => errors.push(e));
    const corrupt = new Uint8Array(record({}));
    new DataView(corrupt.buffer).setUint32(0, 1 << 20, true); // a size past the batch
    assert.doesNotThrow(() => deliverBatch(sensor, corrupt.buffer, 1));
    assert.equal(errors.length, 1);
    assert.equal(sensor.stats().deliveryErrors, 1);
    const closed = once(sensor, 'close');
    await sensor.close();
    await closed;
  });

  it('resolves close() even when the addon fails to stop', async () => {
    const sensor = running({
      stop: () => {
        throw new Error('native stop failed');
      },
    });
    const stats = await sensor.close();
    assert.equal(stats.findings, 0);
  });
});
