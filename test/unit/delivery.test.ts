// Points 2, 4 and 5 of issue 10 without the kernel: bounded async iterators, exception-safe
// delivery, rate-limited listener warnings, and the order of filter updates, against a stand-in
// for the addon that models how the kernel applies them.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { NativeFilterConfig, NativeFilterSet } from '../../lib/filters';
import { FILTER_KIND } from '../../lib/filters';
import type { NativeSensor, NativeStats } from '../../lib/native';
import { Sensor } from '../../lib/sensor';
import { Finding } from '../../lib/signatures/signature';
import { deliverBatch } from '../helpers/delivery';
import { batch, record } from '../helpers/records';

const ZERO: NativeStats = { seen: 0, lost: 0, filtered: 0, suppressed: 0, vmaTruncated: 0, noState: 0, degraded: 0, codeSkipped: 0, drained: 0, prefiltered: 0, malformed: 0, batches: 0 };

/** A running sensor whose addon is a stand-in; `kernel` sees each map write as it happens. */
function running(native: Partial<NativeSensor> = {}): Sensor {
  const sensor = new Sensor();
  const stopped = Promise.resolve();
  Object.assign(sensor, {
    native: { stats: () => ZERO, stop: () => stopped, setFilters: () => {}, ...native },
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

/** The kernel's view, applied one map write at a time as the addon does. */
class KernelModel {
  maps = new Map<number, Map<string, number>>();
  config: NativeFilterConfig = { activeMask: 0, scopeMask: 0 };
  states: boolean[] = [];
  constructor(private readonly watched: () => boolean) {}

  apply(sets: NativeFilterSet[], config: NativeFilterConfig): void {
    const size: Record<number, number> = { 0: 4, 1: 4, 2: 16, 3: 8, 4: 16 };
    for (const set of sets) {
      const map = this.maps.get(set.kind) ?? new Map<string, number>();
      this.maps.set(set.kind, map);
      const wanted = new Set<string>();
      for (let i = 0; i < set.actions.length; i++) {
        const key = Buffer.from(set.keys.subarray(i * size[set.kind], (i + 1) * size[set.kind])).toString('hex');
        wanted.add(key);
        map.set(key, set.actions[i]);
        this.states.push(this.watched());
      }
      for (const key of [...map.keys()]) {
        if (!wanted.has(key)) {
          map.delete(key);
          this.states.push(this.watched());
        }
      }
    }
    this.config = config;
    this.states.push(this.watched());
  }
}

describe('filter changes, in the order the kernel sees them', () => {
  // A process with pid 4242 and comm "wxfix": watched under both the old and the new scope.
  const PID = Buffer.from([0x92, 0x10, 0, 0]).toString('hex');
  const COMM = Buffer.concat([Buffer.from('wxfix'), Buffer.alloc(11)]).toString('hex');

  function setup() {
    const kernel: KernelModel = new KernelModel(() => {
      const keyOf: Record<number, string> = { [FILTER_KIND.pid]: PID, [FILTER_KIND.comm]: COMM };
      for (const kind of Object.values(FILTER_KIND)) {
        if (!(kernel.config.activeMask & (1 << kind))) continue;
        const action = kernel.maps.get(kind)?.get(keyOf[kind] ?? '');
        if (action === 1) return false;
        if (kernel.config.scopeMask & (1 << kind) && action !== 2) return false;
      }
      return true;
    });
    return kernel;
  }

  it('never filters a process both scopes watch while narrowing from one kind to another', () => {
    const kernel = setup();
    const sensor = running({ setFilters: (sets, config) => kernel.apply(sets, config) });
    sensor.setFilters({ scope: { pids: [4242, 4243] } });
    kernel.states = [];
    sensor.setFilters({ scope: { comms: ['wxfix'] } });
    assert.ok(kernel.states.length > 0);
    assert.deepEqual(kernel.states.filter((w) => !w), [], `watched at each step: ${kernel.states.join(',')}`);
  });

  it('puts the old filters back when the kernel refuses part of a change', () => {
    const kernel = setup();
    let calls = 0;
    let failAt = -1;
    const sensor = running({
      setFilters: (sets, config) => {
        if (calls++ === failAt) {
          kernel.apply(sets.slice(0, 1), config); // half applied, then the map update fails
          throw new Error('map update: E2BIG');
        }
        kernel.apply(sets, config);
      },
    });
    sensor.setFilters({ scope: { pids: [4242] } });
    const before = JSON.stringify([...kernel.maps].map(([k, m]) => [k, [...m]]));
    failAt = calls + 1;
    assert.throws(() => sensor.setFilters({ scope: { comms: ['other'] }, allow: { uids: [7] } }), /E2BIG/);
    assert.equal(JSON.stringify([...kernel.maps].map(([k, m]) => [k, [...m]])), before);
    assert.deepEqual(kernel.config, { activeMask: 1 << FILTER_KIND.pid, scopeMask: 1 << FILTER_KIND.pid });
  });
});
