// Point 6 of issue 10: what is missing is named, whatever the host lacks.
import assert from 'node:assert/strict';
import { missingRequirements, privilegeError, Probe } from '../../lib/privileges';

const cap = (...bits: number[]) => bits.reduce((m, b) => m | (1n << BigInt(b)), 0n);
const BPF_PERFMON = cap(39, 38);
const host = (p: Partial<Probe>): Probe => ({ caps: BPF_PERFMON, btf: true, tracefs: 'ok', ...p });

describe('privileges', () => {
  it('asks for nothing when CAP_BPF, CAP_PERFMON, BTF and a readable tracefs are there', () => {
    assert.deepEqual(missingRequirements(host({})), []);
  });

  it('names CAP_DAC_READ_SEARCH when tracefs is mounted but not readable (mode 0700, not root)', () => {
    assert.deepEqual(
      missingRequirements(host({ tracefs: 'denied' })).map((m) => m.split(' ')[0]),
      ['CAP_DAC_READ_SEARCH'],
    );
    assert.deepEqual(missingRequirements(host({ tracefs: 'denied', caps: BPF_PERFMON | cap(2) })), []);
  });

  it('names CAP_SYS_ADMIN when tracefs must be mounted', () => {
    assert.match(missingRequirements(host({ tracefs: 'unmounted' })).join(), /^CAP_SYS_ADMIN \(to mount tracefs/);
    assert.deepEqual(missingRequirements(host({ tracefs: 'unmounted', caps: cap(21) })), []);
  });

  it('names CAP_BPF and CAP_PERFMON when they are missing', () => {
    assert.deepEqual(missingRequirements(host({ caps: 0n })), ['CAP_BPF', 'CAP_PERFMON']);
  });

  it('turns a kernel EPERM/EACCES into a RequirementsError naming the capability', () => {
    assert.match(privilegeError({ errno: 1, phase: 'tracefs', message: 'mount' })!.message, /CAP_SYS_ADMIN/);
    assert.match(privilegeError({ errno: 13, phase: 'attach', message: 'x' })!.message, /CAP_BPF and CAP_PERFMON/);
    assert.equal(privilegeError({ errno: 22, phase: 'load' }), null);
  });
});
