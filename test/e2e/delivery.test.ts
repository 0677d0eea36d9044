// Issue 10, points 2 and 4 against the real kernel: records validated natively (a bad one is
// counted and skipped), findings pin only their own records, the event loop stays responsive
// during a storm.
import assert from 'node:assert/strict';
import { buildHelpers } from '../../bench/build';
import { Sensor } from '../../lib/sensor';
import { Finding } from '../../lib/signatures/signature';
import { runCommand, runFixture } from '../helpers/fixtures';
import { collect, requireRoot, waitFor, withSensor } from '../helpers/sensor';
import { storm } from '../helpers/storm';

const INJECTED_PID = 999999;

function batchBytesOf(f: Finding): number {
  return (f.Event as unknown as { b: { view: DataView } }).b.view.buffer.byteLength;
}

describe('delivery (root, real kernel)', function () {
  before(requireRoot);
  this.timeout(120000);

  it('counts and skips records that fail validation, delivering the rest', async () => {
    const { injector } = buildHelpers();
    const sensor = new Sensor();
    const { ringMapId } = sensor.start();
    let findings = 0;
    sensor.on('finding', (f) => {
      if (f.Event.hostProcessId === INJECTED_PID) {
        findings++;
        assert.equal(f.Event.pathname, '');
      }
    });
    const out = (await runCommand(injector, ['sensor', '0.2', String(ringMapId), '3'])) as unknown as {
      injected: number;
      corrupted: number;
    };
    const stats = await sensor.close();
    assert.ok(out.corrupted > 1000, `corrupted ${out.corrupted}`);
    assert.equal(stats.malformed, out.corrupted);
    assert.equal(findings, out.injected - out.corrupted);
    assert.equal(stats.deliveryErrors, 0);
  });

  it('does not let a kept finding pin a whole batch buffer', () =>
    withSensor({ dedup: false }, async (sensor) => {
      const findings = collect(sensor, 'finding');
      const fx = await runFixture(['w2x']);
      const f = await waitFor(findings, (x) => x.Event.hostProcessId === fx.pid);
      assert.ok(batchBytesOf(f) < 64 << 10, `a light batch is ${batchBytesOf(f)} bytes`);
    }));

  it('keeps timers running within ~100 ms during a storm, with a consumer keeping the last 1000 findings', async () => {
    const sensor = new Sensor({ dedup: false });
    const kept: Finding[] = [];
    sensor.on('finding', (f) => {
      kept.push(f);
      if (kept.length > 1000) kept.shift();
    });
    sensor.start();
    let last = Date.now();
    let worst = 0;
    const timer = setInterval(() => {
      const now = Date.now();
      worst = Math.max(worst, now - last - 10);
      last = now;
    }, 10);
    const s = storm(3);
    await s.done;
    clearInterval(timer);
    const stats = await sensor.close();
    console.log(`      storm: ${stats.findings} findings, ${stats.lost} lost; worst timer delay ${worst} ms`);
    assert.ok(stats.findings > 10000);
    // ~100 ms is the aim (6-50 ms on a quiet 2-core VM); the margin is for a machine shared with
    // other builds.
    assert.ok(worst < 250, `a 10 ms timer was late by ${worst} ms`);
  });
});
