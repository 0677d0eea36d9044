import assert from 'node:assert/strict';
import { decodeBatch } from '../../lib/mem-prot-alert';
import { TRC104 } from '../../lib/signatures/trc104';
import { batch, record } from '../helpers/records';

describe('TRC-104 signature', () => {
  const cases: Array<{ name: string; alert: number; denied?: boolean; fires: boolean }> = [
    { name: 'W to E (alert 4)', alert: 4, fires: true },
    { name: 'mmap W+E (alert 1)', alert: 1, fires: false },
    { name: 'to executable (alert 2)', alert: 2, fires: false },
    { name: 'E to W+E (alert 3)', alert: 3, fires: false },
    { name: 'unknown alert 0', alert: 0, fires: false },
    { name: 'W to E that the kernel refused', alert: 4, denied: true, fires: false },
  ];
  for (const c of cases) {
    it(`${c.fires ? 'fires' : 'does not fire'} on ${c.name}`, () => {
      const [event] = decodeBatch(batch(record({ alert: c.alert, flags: c.denied ? 4 : 0 })), 1, 0n);
      assert.equal(TRC104.matches(event), c.fires);
    });
  }

  it("carries Tracee's metadata exactly", () => {
    assert.deepEqual(TRC104.metadata, {
      ID: 'TRC-104',
      Version: '1',
      Name: 'Dynamic code loading detected',
      EventName: 'dynamic_code_loading',
      Description:
        "Possible dynamic code loading was detected as the binary's memory is both writable and executable. Writing to an executable allocated memory region could be a technique used by adversaries to run code undetected and without dropping executables.",
      Tags: null,
      Properties: {
        Severity: 2,
        Category: 'defense-evasion',
        Technique: 'Software Packing',
        Kubernetes_Technique: '',
        id: 'attack-pattern--deb98323-e13f-4b0c-8d94-175379069062',
        external_id: 'T1027.002',
      },
    });
  });
});
