// The evasion corpus (test/fixtures/wxevade.c): each case makes written memory executable in a
// way a sensor might miss, runs the code, and prints how many W→X transitions took effect. With
// dedup off, the sensor must report exactly that many TRC-104 findings, and whatever it could
// not judge exactly must be flagged and counted, never dropped.
import assert from 'node:assert/strict';
import { runCommand, WXEVADE } from '../helpers/fixtures';
import { collect, requireRoot, settle, startSensor, waitFor, withSensor } from '../helpers/sensor';
import type { Finding } from '../../lib/signatures/signature';
import type { Sensor } from '../../lib/sensor';

interface EvasionReport {
  mode: string;
  pid: number;
  addr: string;
  expected: number;
  alias?: number;
}

async function evade(args: string[]): Promise<EvasionReport> {
  return (await runCommand(WXEVADE, args)) as unknown as EvasionReport;
}

function of(findings: Finding[], pid: number, signature: string): Finding[] {
  return findings.filter((f) => f.Event.hostProcessId === pid && f.SigMetadata.ID === signature);
}

describe('evasion corpus (root, real kernel, dedup off)', function () {
  this.timeout(120_000);
  // One sensor for the whole corpus: loading the programs is the dear part (in a TCG guest, most
  // of a test's time).
  let sensor: Sensor;
  let mode: string;
  let findings: Finding[];
  let degradedEvents: Array<{ degraded: number }>;
  before(function () {
    requireRoot.call(this);
    // Counts, not evidence: without code in each record a 300-VMA burst fits the ring.
    const started = startSensor({ dedup: false, captureBytes: 0 });
    sensor = started.sensor;
    mode = started.info.mode;
    findings = collect(sensor, 'finding');
    degradedEvents = collect(sensor, 'degraded');
  });
  after(() => sensor?.close());

  const cases: Array<{ name: string; args: string[]; check?: (f: Finding[]) => void }> = [
    { name: 'sibling threads churning the mmap lock (1 thread, 400 flips)', args: ['churn', '1', '400'] },
    { name: 'sibling threads churning the mmap lock (4 threads, 400 flips)', args: ['churn', '4', '400'] },
    { name: 'a call that fails with ENOMEM after changing its first page', args: ['partial'] },
    {
      name: 'READ_IMPLIES_EXEC: mprotect(PROT_READ) that the kernel makes executable',
      args: ['read-implies-exec'],
      check: ([f]) => assert.equal(f.Event.wxwatch.readImpliesExec, true),
    },
    {
      name: 'the i386 ABI (int 0x80) from a 64-bit process',
      args: ['compat'],
      check: ([f]) => {
        assert.equal(f.Event.contextFlags.isCompat, true);
        assert.equal(f.Event.syscall, 'mprotect');
      },
    },
    { name: '8 executable VMAs, then the RW one, in one call', args: ['rx-then-rw', '8'] },
    {
      name: 'one call over 20 RW VMAs: one finding per VMA, as Tracee',
      args: ['vmas', '20'],
      check: (f) => assert.equal(f.filter((x) => x.Event.wxwatch.prevProtUnknown).length, 0),
    },
    { name: 'a sibling making the page RW just before this thread makes it RX (300 rounds)', args: ['race', '300'] },
  ];

  for (const c of cases) {
    it(`reports exactly the W→X that took effect: ${c.name}`, async () => {
      const fx = await evade(c.args);
      await settle(findings);
      const trc104 = of(findings, fx.pid, 'TRC-104');
      assert.equal(trc104.length, fx.expected, `${fx.expected} W→X took effect`);
      c.check?.(trc104);
      const s = sensor.stats();
      assert.equal(s.lost, 0);
      assert.equal(s.noState, 0);
    });
  }

  it('reports a range of more VMAs than one snapshot holds in full, anything inexact flagged and counted', async () => {
    const before = sensor.stats();
    const fx = await evade(['vmas', '300']);
    await settle(findings);
    const trc104 = of(findings, fx.pid, 'TRC-104');
    const after = sensor.stats();
    assert.equal(after.lost, 0);
    // one call writes 256 records one by one (bpf/wxwatch.h WX_CALL_RECORDS), then one summary
    const single = trc104.filter((f) => !f.Event.wxwatch.summary);
    const [summary, ...more] = trc104.filter((f) => f.Event.wxwatch.summary);
    assert.equal(single.length, 256);
    assert.equal(more.length, 0);
    assert.equal(summary.Event.wxwatch.summary!.count, 300 - 256);
    assert.equal(after.throttled - before.throttled, 300 - 256);
    assert.equal(single.filter((f) => f.Event.wxwatch.prevProtUnknown).length, 0);
    if (mode === 'lsm-hook') {
      // judged VMA by VMA in mprotect_fixup: nothing to remember, nothing inexact
      assert.equal(summary.Event.wxwatch.prevProtUnknown, false);
    } else {
      // a snapshot holds 256 VMAs (bpf/wxwatch.h); the rest are judged on their state after,
      // flagged (the summary says so) and counted
      assert.equal(summary.Event.wxwatch.prevProtUnknown, true);
      assert.equal(after.vmaTruncated - before.vmaTruncated, 1);
      assert.ok(after.degraded - before.degraded >= 300 - 256, 'flagged findings are in the books');
      // and said so as it happened, like a loss
      await waitFor(degradedEvents, () => degradedEvents.reduce((n, e) => n + e.degraded, 0) >= 300 - 256);
    }
  });

  it('reports code run through an executable alias of a writable memfd as WXW-001, not TRC-104', async () => {
      const fx = await evade(['alias']);
      await settle(findings);
      assert.equal(of(findings, fx.pid, 'TRC-104').length, 0);
      const [alias, ...more] = of(findings, fx.pid, 'WXW-001');
      assert.equal(more.length, 0);
      assert.ok(alias, 'a WXW-001 finding');
      assert.equal(alias.Event.addr, BigInt(fx.addr));
      assert.equal(alias.Event.wxwatch.region, 'memfd');
      assert.equal(alias.Event.wxwatch.writableAlias, true);
      assert.equal(alias.Event.wxwatch.writableMappings, 1);
      assert.match(alias.Event.pathname, /^\/memfd:wxevade-alias/);
  });
});

describe('signature selection (root, real kernel)', function () {
  before(requireRoot);

  it('can run TRC-104 alone (signatures option)', () =>
    withSensor({ dedup: false, signatures: ['TRC-104'] }, async (sensor) => {
      const findings = collect(sensor, 'finding');
      const fx = await evade(['alias']);
      await settle(findings);
      assert.equal(findings.filter((f) => f.Event.hostProcessId === fx.pid).length, 0);
    }));
});
