// Hook modes. This machine's kernel refuses fentry and has no kprobes, so 'auto' must fall back
// to tracepoints and say why, and a forced 'lsm-hook' must fail clearly. On a kernel that has
// either hook, the same tests check that the hook mode really detects.
import assert from 'node:assert/strict';
import { Sensor } from '../../lib/sensor';
import { runFixture } from '../helpers/fixtures';
import { collect, requireRoot, waitFor, withSensor } from '../helpers/sensor';

async function detectsW2X(sensor: Sensor): Promise<void> {
  const findings = collect(sensor, 'finding');
  const fx = await runFixture(['w2x']);
  const f = await waitFor(findings, (x) => x.Event.hostProcessId === fx.pid);
  assert.equal(f.Event.addr, BigInt(fx.addr));
}

describe('hook modes (root, real kernel)', function () {
  before(requireRoot);

  it("'auto' uses the best mode that loads and attaches, and says why it passed over others", () =>
    withSensor({ mode: 'auto' }, async (sensor, info) => {
      if (info.mode === 'tracepoint') {
        assert.deepEqual(
          info.fallbacks.map((f) => f.mode),
          ['lsm-hook (fentry)', 'lsm-hook (kprobe)'],
        );
        for (const f of info.fallbacks) {
          assert.ok(f.reason.length > 0 && f.errno > 0, `a reason for ${f.mode}`);
          assert.match(f.phase, /^(load|attach)$/);
        }
      } else {
        assert.match(info.mode, /^lsm-hook/);
      }
      await detectsW2X(sensor);
    }));

  it("a forced 'lsm-hook' either works or fails with what the kernel lacks", async () => {
    const sensor = new Sensor({ mode: 'lsm-hook' });
    let info;
    try {
      info = sensor.start();
    } catch (err) {
      assert.match((err as Error).message, /lsm-hook mode is not available on this kernel \(lsm-hook \(fentry\): load failed/);
      assert.match((err as Error).message, /CONFIG_KPROBES/);
      return;
    }
    try {
      assert.match(info.mode, /^lsm-hook/);
      await detectsW2X(sensor);
    } finally {
      await sensor.close();
    }
  });

  it("'tracepoint' needs no fallback", () =>
    withSensor({ mode: 'tracepoint' }, async (sensor, info) => {
      assert.equal(info.mode, 'tracepoint');
      assert.deepEqual(info.fallbacks, []);
      await detectsW2X(sensor);
    }));
});
