// What each mode says it does not see, from the programs the kernel took (lib/coverage.ts): the
// names are the BPF objects' own, so a renamed program fails here before a user is misinformed.
import assert from 'node:assert/strict';
import { coverageOf } from '../../lib/coverage';

const MAIN_LSM = ['fentry__mprotect_fixup_0', 'fentry__get_user_pages_remote', 'fentry__mfill_atomic_copy', 'fentry__security_file_permission'];
const LTS = ['fentry__mprotect_fixup_0', 'fexit__mmap_region'];

describe('coverage', () => {
  it('tracepoint mode does not see userfaultfd fills or file writes', () => {
    assert.deepEqual(coverageOf('tracepoint', 'main', []).unseen, ['userfaultfd', 'file-write']);
  });

  it('lsm-hook mode with every write hook sees every route', () => {
    assert.deepEqual(coverageOf('lsm-hook', 'main', MAIN_LSM), { unseen: [], notes: [] });
  });

  it('lsm-hook mode says which routes a kernel without the gup or userfaultfd hooks hides', () => {
    const c = coverageOf('lsm-hook', 'main', ['fentry__security_file_permission']);
    assert.deepEqual(c.unseen, ['userfaultfd', 'proc-mem', 'ptrace', 'process-vm']);
    assert.equal(c.notes.length, 2);
  });

  it('the object for kernels before 6.0 sees the writes whose functions were hooked, and says what it lacks', () => {
    const hooked = coverageOf('lsm-hook', 'lts', [...LTS, 'fentry__follow_page_mask', 'fentry__mcopy_atomic', 'fentry__security_file_permission']);
    assert.deepEqual(hooked.unseen, []);
    assert.ok(hooked.notes.some((n) => /more than 16 views/.test(n)));
    assert.ok(!hooked.notes.some((n) => /aliases/.test(n)), 'aliases are judged there');
    assert.ok(hooked.notes.some((n) => /UFFDIO_CONTINUE/.test(n)));
    const without = coverageOf('lsm-hook', 'lts', LTS);
    assert.deepEqual(without.unseen, ['file-write', 'userfaultfd', 'proc-mem', 'ptrace', 'process-vm']);
    assert.ok(without.notes.some((n) => /follow_page_mask/.test(n)));
    assert.ok(without.notes.some((n) => /mcopy_atomic/.test(n)));
    assert.ok(without.notes.some((n) => /security_file_permission/.test(n)));
  });
});
