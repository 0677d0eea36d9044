// The benchmark's injector path: a BPF syscall program that writes real records straight into
// a running sensor's ring (found by the map id start() reports). Every record it wrote must come
// out as a finding: none lost or doubled between the ring and the listener.
import assert from 'node:assert/strict';
import { buildHelpers } from '../../bench/build';
import { runCommand } from '../helpers/fixtures';
import { requireRoot, Sensor } from '../helpers/sensor';

const INJECTED_PID = 999999; // what bench/injector.bpf.c writes as host_pid

describe('injector path (root, real kernel)', function () {
  before(requireRoot);
  this.timeout(120000);

  it('delivers every injected record as a finding, with the ring full at times', async () => {
    const { injector } = buildHelpers();
    const sensor = new Sensor();
    const { ringMapId } = sensor.start();
    let findings = 0;
    sensor.on('finding', (f) => {
      if (f.Event.hostProcessId === INJECTED_PID) findings++;
    });
    const out = (await runCommand(injector, ['sensor', '0.3', String(ringMapId)])) as unknown as {
      injected: number;
      failed: number;
    };
    const stats = await sensor.close();
    assert.ok(out.injected > 10000, `injected ${out.injected}`);
    assert.equal(findings, out.injected, `findings ${findings}, injector wrote ${out.injected} (ring full ${out.failed} times)`);
    // Injected records bypass the kernel's counters (seen), so the books balance with them added.
    // The ring is full at times: a real W→X of another process then is lost, and counted.
    assert.equal(stats.inFlight, -out.injected, `books: ${JSON.stringify(stats)}`);
  });
});
