// Which preemption model the kernel runs, from what each kind of kernel offers: lsm-hook mode
// attaches spare mprotect_fixup copies only where a BPF program can be preempted mid-run, so a
// wrong "cannot" here would cost findings, and every doubt must come out as "can".
import assert from 'node:assert/strict';
import { canPreempt, preemptionOf, PreemptionInputs } from '../../lib/preemption';

const DEBIAN_612 = '#1 SMP PREEMPT_DYNAMIC Debian 6.12.57-1 (2025-11-05)';
const DEBIAN_510 = '#1 SMP Debian 5.10.237-1 (2025-05-19)';
const on = (over: Partial<PreemptionInputs>): PreemptionInputs => ({ debugfs: null, version: DEBIAN_612, cmdline: 'ro quiet', config: null, ...over });

describe('kernel preemption model', () => {
  it("reads the scheduler's current mode first, whatever the command line asked at boot", () => {
    const p = preemptionOf(on({ debugfs: 'none (voluntary) full lazy\n', cmdline: 'preempt=full' }));
    assert.deepEqual(p, { model: 'voluntary', source: 'sched/preempt' });
    assert.equal(canPreempt(p), false);
    assert.equal(preemptionOf(on({ debugfs: 'none voluntary full (lazy)\n' })).model, 'lazy');
    assert.equal(preemptionOf(on({ debugfs: 'none voluntary (full)\n' })).model, 'full');
  });

  it('on a PREEMPT_DYNAMIC kernel without debugfs: preempt= first, then the build default, else unknown', () => {
    assert.equal(preemptionOf(on({ cmdline: 'root=/dev/vda preempt=full quiet' })).model, 'full');
    assert.equal(preemptionOf(on({ config: 'CONFIG_PREEMPT_BUILD=y\nCONFIG_PREEMPT_VOLUNTARY=y\nCONFIG_PREEMPT_DYNAMIC=y\n' })).model, 'voluntary');
    assert.equal(preemptionOf(on({ config: 'CONFIG_PREEMPT_LAZY=y\nCONFIG_PREEMPT_DYNAMIC=y\n' })).model, 'lazy');
    // an RT kernel is preemptible whatever preempt= says
    assert.equal(preemptionOf(on({ cmdline: 'preempt=none', config: 'CONFIG_PREEMPT_RT=y\nCONFIG_PREEMPT_DYNAMIC=y\n' })).model, 'rt');
    const unknown = preemptionOf(on({ cmdline: 'preempt=bogus' }));
    assert.equal(unknown.model, 'unknown');
    assert.equal(canPreempt(unknown), true, 'a doubt attaches the spare copies');
  });

  it("on a static build, from the version string's PREEMPT, PREEMPT_RT or neither", () => {
    assert.equal(preemptionOf(on({ version: DEBIAN_510 })).model, 'voluntary');
    assert.equal(canPreempt(preemptionOf(on({ version: '#1 SMP PREEMPT Thu Jan 1 2026' }))), true);
    assert.equal(preemptionOf(on({ version: '#1 SMP PREEMPT_RT Debian 6.12.57-1' })).model, 'rt');
    assert.equal(canPreempt(preemptionOf(on({ version: '#1 SMP PREEMPT_RT Debian 6.12.57-1' }))), true);
  });
});
