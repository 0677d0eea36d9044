// Point 6 of issue 10: what is missing is named, whatever the host lacks.
import assert from 'node:assert/strict';
import { missingRequirements, privilegeError, Probe, RequirementsError } from '../../lib/privileges';

const cap = (...bits: number[]) => bits.reduce((m, b) => m | (1n << BigInt(b)), 0n);
const BPF_PERFMON = cap(39, 38);
const host = (p: Partial<Probe>): Probe => ({ caps: BPF_PERFMON, btf: true, ...p });

describe('privileges', () => {
  it('asks for nothing when CAP_BPF, CAP_PERFMON and BTF are there (no tracefs needed)', () => {
    assert.deepEqual(missingRequirements(host({})), []);
    assert.deepEqual(missingRequirements(host({ caps: cap(21) })), [], 'CAP_SYS_ADMIN covers both');
  });

  it('names CAP_BPF and CAP_PERFMON when they are missing, and BTF', () => {
    assert.deepEqual(missingRequirements(host({ caps: 0n })), ['CAP_BPF', 'CAP_PERFMON']);
    assert.match(missingRequirements(host({ btf: false })).join(), /BTF: CONFIG_DEBUG_INFO_BTF/);
  });

  it('names BTF and the ring buffer as the kernel features they are, exit 77 material', () => {
    assert.deepEqual(missingRequirements(host({ btf: false })), ['BTF: CONFIG_DEBUG_INFO_BTF (this kernel has no /sys/kernel/btf/vmlinux)']);
    assert.deepEqual(missingRequirements(host({ ringbuf: false })), ['the BPF ring buffer, Linux 5.8']);
    assert.deepEqual(missingRequirements(host({ ringbuf: null })), [], 'not probed: the load decides');
    const err = new RequirementsError(missingRequirements(host({ btf: false, ringbuf: false })));
    assert.equal(err.code, 'EWXREQUIREMENTS');
    assert.match(err.message, /^wxwatch cannot run on this kernel \(Linux [^)]+\): needs BTF: CONFIG_DEBUG_INFO_BTF \(.*\); needs the BPF ring buffer, Linux 5\.8$/);
    const both = new RequirementsError(missingRequirements(host({ caps: 0n, btf: false })));
    assert.match(both.message, /needs root, or the capabilities CAP_BPF and CAP_PERFMON.*missing: CAP_BPF, CAP_PERFMON; and this kernel: needs BTF: CONFIG_DEBUG_INFO_BTF/);
  });

  it('turns a kernel EPERM/EACCES into a RequirementsError naming the capability', () => {
    assert.match(privilegeError({ errno: 1, phase: 'load', message: 'x' })!.message, /CAP_BPF and CAP_PERFMON/);
    assert.match(privilegeError({ errno: 13, phase: 'attach', message: 'x' })!.message, /CAP_BPF and CAP_PERFMON/);
    assert.equal(privilegeError({ errno: 22, phase: 'load' }), null);
  });
});
