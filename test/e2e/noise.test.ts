// Noise control in the kernel: dedup per process image, allowlists and scopes, and the books:
// every candidate ends as emitted, filtered, suppressed or lost.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SensorStats } from '../../lib/sensor';
import { runCommand, runFixture, startFixture, WXFIX } from '../helpers/fixtures';
import { cgroup2Mount, runWithPid } from '../helpers/procs';
import { collect, requireRoot, Sensor, settle, waitFor, withSensor } from '../helpers/sensor';

function balanced(s: SensorStats): void {
  assert.equal(s.inFlight, 0, 'nothing in flight after close');
  assert.equal(s.seen, s.emitted + s.filtered + s.suppressed + s.lost + s.lostBusy + s.throttled + s.malformed, JSON.stringify(s));
}

describe('noise control (root, real kernel)', function () {
  before(requireRoot);
  this.timeout(60000);

  // A copy of the fixture under another name and path, runnable by any user.
  let dir: string;
  let other: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-test-'));
    chmodSync(dir, 0o755);
    other = path.join(dir, 'wxother');
    copyFileSync(WXFIX, other);
    chmodSync(other, 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('dedup', () => {
    it('reports a repeated transition once per process, and again for a fresh process', async () => {
      const sensor = new Sensor();
      sensor.start();
      const findings = collect(sensor, 'finding');
      const first = await runFixture(['repeat', '5']);
      const second = await runFixture(['repeat', '5']);
      await settle(findings);
      const stats = await sensor.close();
      assert.equal(findings.filter((f) => f.Event.hostProcessId === first.pid).length, 1);
      assert.equal(findings.filter((f) => f.Event.hostProcessId === second.pid).length, 1);
      assert.ok(stats.suppressed >= 8, `suppressed ${stats.suppressed}`);
      balanced(stats);
    });

    it('reports the same transition again after the process execs', () =>
      withSensor({}, async (sensor) => {
        const findings = collect(sensor, 'finding');
        const run = await runWithPid(WXFIX, ['exec-w2x']);
        assert.equal(run.reports.length, 2, 'a report before and after exec');
        assert.equal(run.reports[1].pid, run.pid, 'the same process');
        await settle(findings);
        assert.equal(findings.filter((f) => f.Event.hostProcessId === run.pid).length, 2);
      }));

    it('off: one finding per transition, as Tracee', async () => {
      const sensor = new Sensor({ dedup: false });
      sensor.start();
      const findings = collect(sensor, 'finding');
      const fx = await runFixture(['repeat', '5']);
      await settle(findings);
      const stats = await sensor.close();
      assert.equal(findings.filter((f) => f.Event.hostProcessId === fx.pid).length, 5);
      assert.equal(stats.suppressed, 0);
      balanced(stats);
    });
  });

  describe('allowlists and scopes', () => {
    it('ignores an allowlisted process name and nobody else', () =>
      withSensor({ allow: { comms: ['wxother'] } }, async (sensor) => {
        const findings = collect(sensor, 'finding');
        const ignored = await runCommand(other, ['w2x']);
        const watched = await runFixture(['w2x']);
        await waitFor(findings, (f) => f.Event.hostProcessId === watched.pid);
        await settle(findings);
        assert.equal(findings.filter((f) => f.Event.hostProcessId === ignored.pid).length, 0);
        assert.ok(sensor.stats().filtered >= 1);
      }));

    it('ignores an allowlisted executable, matched by the file its path names', () =>
      withSensor({ allow: { exes: [other] } }, async (sensor) => {
        const findings = collect(sensor, 'finding');
        const ignored = await runCommand(other, ['w2x']);
        await settle(findings);
        assert.equal(findings.filter((f) => f.Event.hostProcessId === ignored.pid).length, 0);
      }));

    it('ignores an allowlisted pid', () =>
      withSensor({}, async (sensor) => {
        const findings = collect(sensor, 'finding');
        const child = spawn(WXFIX, ['wait-w2x'], { stdio: ['pipe', 'pipe', 'inherit'] });
        sensor.setAllowlist({ pids: [child.pid!] });
        child.stdin.end('go\n');
        const [code] = await once(child, 'exit');
        assert.equal(code, 0);
        await settle(findings);
        assert.equal(findings.filter((f) => f.Event.hostProcessId === child.pid).length, 0);
      }));

    it('ignores an allowlisted cgroup and every cgroup nested in it', async function () {
      const mount = cgroup2Mount();
      if (!mount) this.skip();
      const outer = path.join(mount!, `wxwatch-test-${process.pid}`);
      const inner = path.join(outer, 'inner');
      mkdirSync(inner, { recursive: true });
      try {
        await withSensor({ allow: { cgroups: [outer] } }, async (sensor) => {
          const findings = collect(sensor, 'finding');
          const ignored = await runFixture(['cgroup-w2x', inner]);
          await settle(findings);
          assert.equal(findings.filter((f) => f.Event.hostProcessId === ignored.pid).length, 0);
        });
      } finally {
        rmdirSync(inner);
        rmdirSync(outer);
      }
    });

    it('ignores an allowlisted uid', () =>
      withSensor({ allow: { uids: [65534] } }, async (sensor) => {
        const findings = collect(sensor, 'finding');
        const asNobody = await runCommand('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', other, 'w2x']);
        await settle(findings);
        assert.equal(findings.filter((f) => f.Event.hostProcessId === asNobody.pid).length, 0);
      }));

    it('watches only what a scope names', () =>
      withSensor({ scope: { comms: ['wxother'] } }, async (sensor) => {
        const findings = collect(sensor, 'finding');
        const outside = await runFixture(['w2x']);
        const inside = await runCommand(other, ['w2x']);
        await waitFor(findings, (f) => f.Event.hostProcessId === inside.pid);
        assert.equal(findings.filter((f) => f.Event.hostProcessId === outside.pid).length, 0);
      }));

    it('takes a changed list while running', () =>
      withSensor({}, async (sensor) => {
        const findings = collect(sensor, 'finding');
        const before = await runCommand(other, ['w2x']);
        await waitFor(findings, (f) => f.Event.hostProcessId === before.pid);
        sensor.setAllowlist({ comms: ['wxother'] });
        const during = await runCommand(other, ['w2x']);
        await settle(findings);
        assert.equal(findings.filter((f) => f.Event.hostProcessId === during.pid).length, 0);
        sensor.setAllowlist({});
        const after = await runCommand(other, ['w2x']);
        await waitFor(findings, (f) => f.Event.hostProcessId === after.pid);
      }));

    it('rejects a bad list without changing the current one', () =>
      withSensor({ allow: { comms: ['wxother'] } }, async (sensor) => {
        assert.throws(() => sensor.setAllowlist({ exes: ['/nonexistent/wxwatch'] }), /cannot resolve \/nonexistent/);
        assert.throws(() => sensor.setAllowlist({ comms: ['a-name-longer-than-15'] }), RangeError);
        const findings = collect(sensor, 'finding');
        const still = await runCommand(other, ['w2x']);
        await settle(findings);
        assert.equal(findings.filter((f) => f.Event.hostProcessId === still.pid).length, 0);
      }));
  });

  describe('filter changes are all or nothing in the kernel', () => {
    it('never filters a process both scopes watch while the scope narrows from pids to comms', () =>
      withSensor({ dedup: false, scope: { pids: [1] } }, async (sensor) => {
        const findings = collect(sensor, 'finding');
        // A process that flips RW→RX 2000 times, watched by both scopes below.
        const child = spawn(WXFIX, ['wait-flip'], { stdio: ['pipe', 'pipe', 'inherit'] });
        const closed = once(child, 'close');
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        const pid = child.pid!;
        sensor.setScope({ pids: [pid] });
        child.stdin.write('go\n');
        // While it flips, switch scopes back and forth: every switch is one generation flip.
        for (let i = 0; i < 40 && child.exitCode === null; i++) {
          sensor.setScope(i % 2 ? { pids: [pid] } : { comms: ['wxfix'] });
          await new Promise((r) => setTimeout(r, 2));
        }
        await closed;
        const report = JSON.parse(out.trim()) as { flips: number };
        sensor.setScope({}); // so that settle()'s sentinel is watched
        await settle(findings);
        assert.equal(findings.filter((f) => f.Event.hostProcessId === pid).length, report.flips, 'every flip seen');
      }));

    it('leaves the old lists exactly when the kernel refuses a change half-way', () =>
      withSensor({ allow: { comms: ['wxother'] } }, async (sensor) => {
        // Straight to the addon: a change whose last kind the kernel side refuses (key bytes that
        // do not fit the kind), after the others were written to the spare generation.
        const native = (sensor as unknown as { native: { setFilters(sets: unknown[], config: unknown): void } }).native;
        const bad = [
          { kind: 1, keys: new Uint8Array(4), actions: Uint8Array.from([1]) }, // allow uid 0: everyone here
          { kind: 4, keys: new Uint8Array(3), actions: Uint8Array.from([1]) },
        ];
        assert.throws(() => native.setFilters(bad, { activeMask: 0b10010, scopeMask: 0 }), /key bytes/);
        const findings = collect(sensor, 'finding');
        const still = await runCommand(other, ['w2x']); // still allowlisted
        const seen = await runFixture(['w2x']); // uid 0, still watched: uid 0 never got in
        await waitFor(findings, (f) => f.Event.hostProcessId === seen.pid);
        assert.equal(findings.filter((f) => f.Event.hostProcessId === still.pid).length, 0);
      }));
  });

  describe('losses', () => {
    /** A consumer that stops reading for 1.5 s at its first finding. */
    function stallOnce(sensor: Sensor): void {
      let stalled = false;
      sensor.on('finding', () => {
        if (stalled) return;
        stalled = true;
        const until = Date.now() + 1500;
        while (Date.now() < until);
      });
    }

    /** A consumer that stops reading at its first finding until every pid has exited (60 s at most). */
    function stallUntilExited(sensor: Sensor, pids: number[]): void {
      let stalled = false;
      sensor.on('finding', () => {
        if (stalled) return;
        stalled = true;
        const until = Date.now() + 60_000;
        // the event loop is blocked, so nobody reaps them: an exited child is a zombie
        while (Date.now() < until && pids.some((pid) => !exited(pid)));
      });
    }

    function exited(pid: number): boolean {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
      } catch {
        return true;
      }
    }

    it('keeps one flooding process to its fair share of a filling ring: the rest summarised and counted, nothing lost', async () => {
      const sensor = new Sensor({ dedup: false, ringBufferBytes: 64 << 10, captureBytes: 0 });
      sensor.start();
      const findings = collect(sensor, 'finding');
      stallOnce(sensor);
      const fx = await runFixture(['flip', '20000']);
      await settle(findings);
      const stats = await sensor.close();
      const mine = findings.filter((f) => f.Event.hostProcessId === fx.pid);
      const summaries = mine.filter((f) => f.Event.wxwatch.summary);
      assert.equal(stats.lost, 0, 'a lone flooder does not fill the ring');
      assert.ok(stats.throttled > 0, `throttled ${stats.throttled}`);
      // every W→X is a finding of its own or counted in a summary
      const represented = mine.length - summaries.length + summaries.reduce((n, f) => n + f.Event.wxwatch.summary!.count, 0);
      assert.equal(represented, 20000);
      balanced(stats);
    });

    it('counts what a tiny ring and a stalled consumer lose when many processes flood it, and the books still balance', async () => {
      const sensor = new Sensor({ dedup: false, ringBufferBytes: 64 << 10, captureBytes: 0 });
      sensor.start();
      const lostEvents = collect(sensor, 'lost');
      // each within its own share, together more than the ring
      const floods = Array.from({ length: 24 }, () => startFixture(['flip', '2000']));
      // the consumer stops at its first finding until every flooder has run to its end: the ring
      // must overflow however fast or slow this machine is
      stallUntilExited(sensor, floods.map((f) => f.pid));
      const runs = await Promise.all(floods.map((f) => f.done));
      assert.ok(runs.every((r) => r.report.mode === 'flip'));
      const stats = await sensor.close();
      assert.ok(stats.lost > 0, `lost ${stats.lost}`);
      assert.ok(lostEvents.length > 0 && lostEvents[lostEvents.length - 1].total === stats.lost);
      // every flip seen, or its program run counted as missed (preemptible kernels)
      assert.ok(stats.seen + stats.missedRuns >= 24 * 2000, `seen ${stats.seen}, missed runs ${stats.missedRuns}`);
      balanced(stats);
    });
  });
});
