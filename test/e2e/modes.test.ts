// Hook modes. On a kernel with BPF trampolines (Debian's 6.1 and 6.12) 'auto' runs lsm-hook; on
// one that refuses them (this project's 6.18 hosts) it falls back to tracepoint and says why in
// words that name the real cause. Each mode that starts must really detect, and must cost other
// system calls nothing: no syscall tracepoint, no tracefs.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { modeMissing } from '../../lib/kernel-features';
import { canPreempt } from '../../lib/preemption';
import { systemProbe } from '../../lib/privileges';
import { Sensor } from '../../lib/sensor';
import { runFixture } from '../helpers/fixtures';
import { collect, programTypes, requireRoot, waitFor, withSensor } from '../helpers/sensor';

async function detectsW2X(sensor: Sensor): Promise<void> {
  const findings = collect(sensor, 'finding');
  const fx = await runFixture(['w2x']);
  const f = await waitFor(findings, (x) => x.Event.hostProcessId === fx.pid);
  assert.equal(f.Event.addr, BigInt(fx.addr));
}

describe('hook modes (root, real kernel)', function () {
  before(requireRoot);

  it("'auto' uses the cheapest mode that loads and attaches, and says why it passed over others", () =>
    withSensor({ mode: 'auto' }, async (sensor, info) => {
      if (info.mode === 'tracepoint') {
        assert.deepEqual(info.fallbacks.map((f) => f.mode), ['lsm-hook']);
        const [f] = info.fallbacks;
        assert.ok(f.reason.length > 0 && f.errno > 0, 'a reason');
        assert.match(f.phase, /^(load|attach)$/);
      } else {
        assert.equal(info.mode, 'lsm-hook');
        assert.deepEqual(info.fallbacks, []);
      }
      await detectsW2X(sensor);
    }));

  it("a forced 'lsm-hook' either works or names what the kernel refused", async () => {
    const sensor = new Sensor({ mode: 'lsm-hook' });
    let info;
    try {
      info = sensor.start();
    } catch (err) {
      // Either the kernel refused trampolines, or (a bug) the verifier rejected a program: the
      // message says which, with the program's name and the verifier's last words.
      assert.match(
        (err as Error).message,
        /cannot start in mode lsm-hook: lsm-hook: (the kernel refused BPF trampolines|the verifier rejected \w+: .+|this kernel has no \w+ to hook)/,
      );
      assert.doesNotMatch((err as Error).message, /verifier/, 'no verifier rejection on a supported kernel');
      return;
    }
    try {
      assert.equal(info.mode, 'lsm-hook');
      await detectsW2X(sensor);
    } finally {
      await sensor.close();
    }
  });

  // Spare copies take over from a copy the kernel skips on a CPU where a preempted run of it is in
  // progress; where nothing can preempt one they would only cost every mprotect. The guests hold
  // both: 6.12 (PREEMPT_DYNAMIC, voluntary by default) and 6.12 with preempt=full, and sid (lazy).
  it('attaches spare mprotect_fixup copies only where the kernel can preempt them (lsm-hook)', async function () {
    const sensor = new Sensor({ mode: 'lsm-hook' });
    let info;
    try {
      info = sensor.start();
    } catch {
      this.skip(); // no trampolines here (the test above says why)
    }
    try {
      const asked = /(?:^|\s)preempt=(\w+)/.exec(readFileSync('/proc/cmdline', 'utf8'))?.[1];
      if (asked) assert.equal(info.preemption.model, asked, `the command line asks for ${asked}`);
      if (existsSync('/sys/kernel/debug/sched/preempt')) assert.equal(info.preemption.source, 'sched/preempt');
      const copies = info.programNames.filter((n) => /^fentry__mprotect_fixup/.test(n)).length;
      const exits = info.programNames.filter((n) => /^fexit__mprotect_fixup/.test(n)).length;
      // the LTS object (before 6.0) has one pair, for Debian 11's non-preemptible 5.10
      const expected = info.object === 'lts' ? 1 : canPreempt(info.preemption) ? 3 : 1;
      assert.equal(copies, expected, `${info.preemption.model} (${info.preemption.source})`);
      assert.equal(exits, expected);
      if (info.object === 'lts') assert.equal(canPreempt(info.preemption), false, 'the LTS object has no spare copies');
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

  for (const mode of ['tracepoint', 'auto'] as const) {
    it(`attaches no syscall tracepoint and needs no tracefs (${mode})`, function () {
      // a kernel the mode is refused on (5.10's tracepoint: the CLI test names what it lacks)
      if (mode === 'tracepoint' && modeMissing(mode, systemProbe().kernel ?? null).length) this.skip();
      return withSensor({ mode }, async (_sensor, info) => {
        const types = programTypes(info.programIds);
        assert.ok(types.length >= 3);
        // raw tracepoints (mmap_lock, maple_tree) or trampolines, and the 'syscall' program user
        // space runs itself (flush_summaries, attached to nothing); never a perf-event tracepoint
        for (const t of types) assert.match(t, /^(raw_tracepoint|tracing|syscall)$/);
      });
    });
  }
});
