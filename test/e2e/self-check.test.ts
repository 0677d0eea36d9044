// Two sensors on one host: the second does not report the first one's self-check as TRC-104.
import assert from 'node:assert/strict';
import { collect, requireRoot, settle, waitFor, withSensor } from '../helpers/sensor';

describe("another sensor's self-check (root, real kernel)", function () {
  before(requireRoot);

  it('is no finding for a second sensor, and is counted in its stats()', () =>
    withSensor({}, async (second) => {
      const findings = collect(second, 'finding');
      const before = second.stats().selfChecksOfOthers;
      await withSensor({}, async (first) => {
        const { pid } = await first.selfCheck();
        await settle(findings); // everything recorded before the sentinel has been delivered
        assert.deepEqual(findings.filter((f) => f.Event.hostProcessId === pid).map((f) => f.SigMetadata.ID), []);
      });
      // Other sensors may run self-checks on this host too: at least the first one's was counted.
      assert.ok(second.stats().selfChecksOfOthers >= before + 1, JSON.stringify(second.stats()));
    }));

  it('is reported as usual by a sensor that captures no code (nothing is known of its bytes)', () =>
    withSensor({ captureBytes: 0 }, async (second) => {
      const findings = collect(second, 'finding');
      await withSensor({}, async (first) => {
        const { pid } = await first.selfCheck();
        const f = await waitFor(findings, (x) => x.Event.hostProcessId === pid);
        assert.equal(f.SigMetadata.ID, 'TRC-104');
        assert.equal(f.Event.wxwatch.code, undefined);
      });
    }));
});
