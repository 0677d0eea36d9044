// The real sensor against real processes: BPF loaded into this kernel, fixtures changing their
// own page protections, findings checked field by field.
import assert from 'node:assert/strict';
import { MemProtAlert } from '../../lib/mem-prot-alert';
import { Finding } from '../../lib/signatures/signature';
import { runFixture, WXFIX, WXSELF } from '../helpers/fixtures';
import { collect, loadedProgramIds, requireRoot, Sensor, settle, waitFor, withSensor } from '../helpers/sensor';

const PROT_READ_EXEC = 5;
const VM_WRITE = 0x2;

describe('sensor (root, real kernel)', function () {
  before(requireRoot);

  it('reports a W→X loader as a TRC-104 finding with its exact context', () =>
    withSensor({}, async (sensor) => {
      const findings = collect(sensor, 'finding');
      const fx = await runFixture(['w2x']);
      const f = await waitFor(findings, (x) => x.Event.hostProcessId === fx.pid);
      const e = f.Event;
      assert.equal(f.SigMetadata.ID, 'TRC-104');
      assert.equal(f.Data, null);
      assert.equal(e.hostProcessId, fx.pid);
      assert.equal(e.hostThreadId, fx.tid);
      assert.equal(e.processId, fx.pid, 'host pid namespace: same numbers');
      assert.equal(e.hostParentProcessId, process.pid);
      assert.equal(e.processName, 'wxfix');
      assert.equal(e.executable.path, WXFIX);
      assert.equal(e.syscall, 'mprotect');
      assert.equal(e.returnValue, 0);
      assert.equal(e.userId, process.getuid!());
      const args = Object.fromEntries(e.args.map((a) => [a.name, a.value]));
      assert.equal(args.alert, 4);
      assert.equal(args.addr, BigInt(fx.addr));
      assert.equal(args.len, fx.len);
      assert.equal(args.prot, PROT_READ_EXEC);
      assert.ok(((args.prev_prot as number) & VM_WRITE) !== 0, 'prev_prot has VM_WRITE');
      assert.equal(args.pathname, '');
      assert.equal(e.wxwatch.region, 'anonymous');
      const now = BigInt(Date.now()) * 1_000_000n;
      assert.ok(now - e.timestamp < 10_000_000_000n && e.timestamp <= now + 1_000_000_000n, 'epoch ns, recent');
    }));

  const negatives: Array<[string, string[]]> = [
    ['RX→RW', ['x2w']],
    ['R→RX (alert 2 only)', ['r2x']],
    ['RW→RW', ['w2w']],
    ['RW→RX refused by PR_SET_MDWE', ['denied']],
  ];
  for (const [name, args] of negatives) {
    it(`gives no finding for ${name}`, function () {
      return withSensor({}, async (sensor) => {
        const findings = collect(sensor, 'finding');
        const fx = await runFixture(args);
        if (fx.unsupported) this.skip();
        if (args[0] === 'denied') assert.equal(fx.errno, 13, 'the fixture saw EACCES');
        await settle(findings);
        assert.deepEqual(findings.filter((f) => f.Event.hostProcessId === fx.pid), []);
      });
    });
  }

  it('streams raw mem_prot_alert events when asked: R→RX is alert 2', () =>
    withSensor({ alerts: true }, async (sensor) => {
      const alerts = collect(sensor, 'alert');
      const fx = await runFixture(['r2x']);
      const a = await waitFor(alerts, (x) => x.hostProcessId === fx.pid);
      assert.equal(a.alert, 2);
      assert.equal(a.addr, BigInt(fx.addr));
    }));

  it('reports a refused W→X attempt as a denied event, never as a finding', function () {
    return withSensor({ denied: true }, async (sensor, info) => {
      const denied = collect(sensor, 'denied');
      const findings = collect(sensor, 'finding');
      const fx = await runFixture(['denied']);
      if (fx.unsupported) this.skip();
      if (info.mode === 'lsm-hook') {
        // PR_SET_MDWE refuses before the security hook: the trampolines never see the attempt
        // (README: modes). Still no finding, below.
      } else {
        const d = await waitFor(denied, (x) => x.hostProcessId === fx.pid);
        assert.equal(d.alert, 4);
        assert.equal(d.returnValue, 0, 'tracepoint mode sees that it was not applied, not why');
        assert.equal(d.eventName, 'mem_prot_denied');
        assert.equal(d.wxwatch.denied, true);
      }
      await settle(findings);
      assert.equal(findings.filter((f) => f.Event.hostProcessId === fx.pid).length, 0);
    });
  });

  it('never reports its own process, even for a real W→X inside it', () =>
    withSensor({ alerts: true }, async (sensor) => {
      const findings = collect(sensor, 'finding');
      const alerts = collect(sensor, 'alert');
      // The library's constructor does RW→RX in this very process; it is not a Node module,
      // so dlopen throws after the constructor has run.
      assert.throws(() => process.dlopen({ exports: {} } as NodeJS.Module, WXSELF));
      await settle(findings);
      const own = (e: MemProtAlert) => e.hostProcessId === process.pid;
      assert.equal(findings.filter((f) => own(f.Event)).length, 0);
      assert.equal(alerts.filter(own).length, 0);
    }));

  it('leaves none of its programs attached after close()', async () => {
    const sensor = new Sensor();
    const { programIds } = sensor.start();
    const loaded = loadedProgramIds();
    const stats = await sensor.close();
    assert.ok(programIds.length >= 3, 'the mode\'s hooks');
    assert.deepEqual(programIds.filter((id) => !loaded.has(id)), [], 'all loaded while running');
    // The kernel frees a detached program after an RCU grace period: give it a moment.
    let left = programIds;
    for (const deadline = Date.now() + 3000; left.length && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
      const after = loadedProgramIds();
      left = programIds.filter((id) => after.has(id));
    }
    assert.deepEqual(left, []);
    assert.equal(stats.lost, 0);
  });

  it('delivers pending findings before close() resolves, then ends the async iterator', async () => {
    const sensor = new Sensor();
    sensor.start();
    const iterated: Finding[] = [];
    const iterating = (async () => {
      for await (const f of sensor) iterated.push(f);
    })();
    const fx = await runFixture(['w2x']);
    const stats = await sensor.close();
    await iterating;
    assert.ok(iterated.some((f) => f.Event.hostProcessId === fx.pid));
    assert.equal(stats.findings, iterated.length);
  });

  it('proves the path end to end with selfCheck(), even when the scope excludes everything', () =>
    withSensor({ scope: { comms: ['no-such-comm'] } }, async (sensor) => {
      const findings = collect(sensor, 'finding');
      const { pid, latencyMs } = await sensor.selfCheck();
      assert.ok(pid > 0 && latencyMs >= 0);
      assert.equal(findings.filter((f) => f.Event.hostProcessId === pid).length, 0, 'the check is not a finding');
      // and the scope still holds for everyone else
      const fx = await runFixture(['w2x']);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(findings.filter((f) => f.Event.hostProcessId === fx.pid).length, 0);
    }));

  it('keeps delivering to other listeners when one throws', () =>
    withSensor({}, async (sensor) => {
      const errors = collect(sensor, 'error');
      sensor.on('finding', () => {
        throw new Error('listener bug');
      });
      const findings = collect(sensor, 'finding');
      const fx = await runFixture(['w2x']);
      await waitFor(findings, (f) => f.Event.hostProcessId === fx.pid);
      assert.ok(errors.some((e) => e.message === 'listener bug'));
      assert.ok(sensor.stats().listenerErrors >= 1);
    }));
});
