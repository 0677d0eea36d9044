// Issue 18, point 3: below what a mode supports, the refusal names what the kernel lacks, before
// anything is loaded. The kernels' answers here are those of their real BTF (Debian 11's
// 5.10.0-32, read from its vmlinuz).
import assert from 'node:assert/strict';
import { BTF_QUERIES, modeMissing, needsText, planModes } from '../../lib/kernel-features';
import { describeFallbacks } from '../../lib/load-errors';

const ALL = new Set(BTF_QUERIES);
/** What Debian 11's 5.10 kernel BTF lacks of BTF_QUERIES (its mprotect_fixup has 5 parameters). */
const LACKS_510 = [
  'enum:bpf_map_type.BPF_MAP_TYPE_TASK_STORAGE',
  'enum:bpf_func_id.BPF_FUNC_get_current_task_btf',
  'enum:bpf_func_id.BPF_FUNC_task_pt_regs',
  'enum:bpf_func_id.BPF_FUNC_loop',
  'typedef:btf_trace_mmap_lock_acquire_returned',
  'typedef:btf_trace_mmap_lock_released',
  'member:mm_struct.mm_mt',
  'typedef:btf_trace_ma_write',
];
const without = (...lacks: string[]) => new Set(BTF_QUERIES.filter((q) => !lacks.includes(q)));
const K510 = without(...LACKS_510);

describe('kernel features', () => {
  it('asks nothing of a kernel that has it all (6.1, 6.12, sid, the host), and never refuses on an unreadable BTF', () => {
    for (const mode of ['lsm-hook', 'tracepoint']) {
      assert.deepEqual(modeMissing(mode, ALL), []);
      assert.deepEqual(modeMissing(mode, ALL, true), []);
      assert.deepEqual(modeMissing(mode, null), [], 'no BTF answers: the load decides');
    }
    assert.deepEqual(planModes(['lsm-hook', 'tracepoint'], ALL), { modes: ['lsm-hook', 'tracepoint'], skipped: [] });
  });

  it('runs lsm-hook on Linux 5.10 (the object for kernels before 6.0), with enforce too, and names what tracepoint lacks there', () => {
    assert.deepEqual(modeMissing('lsm-hook', K510), []);
    assert.deepEqual(modeMissing('lsm-hook', K510, true), []);
    assert.deepEqual(modeMissing('tracepoint', K510), [
      'BPF task storage (Linux 5.11)',
      'bpf_get_current_task_btf (Linux 5.11)',
      'bpf_task_pt_regs (Linux 5.15)',
      'bpf_loop (Linux 5.17)',
      'the mmap_lock tracepoints (Linux 5.11)',
      'the maple tree of VMAs (Linux 6.1)',
    ]);
    const plan = planModes(['lsm-hook', 'tracepoint'], K510);
    assert.deepEqual(plan.modes, ['lsm-hook']);
    assert.equal(
      describeFallbacks(plan.skipped),
      'tracepoint: needs BPF task storage (Linux 5.11), bpf_get_current_task_btf (Linux 5.11), bpf_task_pt_regs (Linux 5.15), ' +
        'bpf_loop (Linux 5.17), the mmap_lock tracepoints (Linux 5.11) and the maple tree of VMAs (Linux 6.1)',
    );
    assert.deepEqual(plan.skipped.map((f) => f.phase), ['probe']);
  });

  it('passes over only the mode that lacks something, and says why', () => {
    // Linux 5.17 to 6.0: every helper, no maple tree.
    const k = without('member:mm_struct.mm_mt', 'typedef:btf_trace_ma_write');
    const plan = planModes(['lsm-hook', 'tracepoint'], k);
    assert.deepEqual(plan.modes, ['lsm-hook']);
    assert.deepEqual(plan.skipped, [{ mode: 'tracepoint', phase: 'probe', errno: 0, reason: 'needs the maple tree of VMAs (Linux 6.1)' }]);
  });

  it('enforce also needs BPF LSM built in', () => {
    const k = without('func:bpf_lsm_file_mprotect');
    assert.deepEqual(modeMissing('lsm-hook', k), []);
    assert.deepEqual(modeMissing('lsm-hook', k, true), ['BPF LSM (CONFIG_BPF_LSM, Linux 5.7)']);
    assert.deepEqual(modeMissing('tracepoint', k, true), [], 'enforcement is lsm-hook only');
  });

  it('a kernel without trampolines or the hooked functions is told so', () => {
    assert.deepEqual(modeMissing('lsm-hook', without('enum:bpf_attach_type.BPF_TRACE_FENTRY')), ['BPF trampolines (fentry/fexit, Linux 5.5)']);
    assert.match(modeMissing('lsm-hook', without('func:mmap_region'))[0], /mprotect_fixup\(\) and mmap_region\(\)/);
    // A prototype neither object reads (the arguments would be misread).
    assert.deepEqual(modeMissing('lsm-hook', without('params:mprotect_fixup.5,6,7')), [
      'mprotect_fixup() with 5, 6 or 7 arguments (its prototypes since Linux 5.5)',
    ]);
    assert.equal(needsText(['a']), 'needs a');
    assert.equal(needsText(['a', 'b', 'c']), 'needs a, b and c');
  });
});
