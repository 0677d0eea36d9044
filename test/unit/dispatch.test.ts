// The batch callback's hot loop delivers exactly the findings the signatures' own conditions
// give (a refusal only to the signatures of its rule), in record order, over records of every
// alert kind, both events, every rule and random flags; and a signature matches only records of
// its declared alert kinds or flags (the sensor offers it no others).
import assert from 'node:assert/strict';
import { decodeBatch } from '../../lib/mem-prot-alert';
import { FLAG, OFF } from '../../lib/record-layout';
import { Sensor } from '../../lib/sensor';
import { SIGNATURES } from '../../lib/signatures';
import { deliverBatch } from '../helpers/delivery';
import { batch, record } from '../helpers/records';
import { ALERT } from '../../lib/event';

const [W, X] = [2n, 4n];

/** The alert kind the kernel gives a change (bpf/memory.bpf.h judge(); an mmap asking for W and
 * X is MMAP_W_X), and none for a write. */
function kernelAlert(isWrite: boolean, isMmap: boolean, prev: bigint, next: bigint): number {
  if (isWrite || !(next & X)) return 0;
  if (isMmap) return next & W ? ALERT.MMAP_W_X : ALERT.MPROT_X_ADD;
  if (prev & W && !(next & W)) return ALERT.MPROT_W_REM;
  if (prev & X && !(prev & W) && next & W) return ALERT.MPROT_W_ADD;
  return prev & X ? 0 : ALERT.MPROT_X_ADD;
}

describe('dispatch', () => {
  it('delivers exactly the findings each signature matches, one Detection per match', () => {
    const bits = Object.values(FLAG).filter((b) => b !== FLAG.DENIED);
    // Records as the kernel writes them: the alert kind follows from the change.
    const alerts = new Set<number>();
    const records = Array.from({ length: 600 }, (_, i) => {
      const isWrite = i % 7 === 0;
      const prev = i % 11 === 0 ? 0n : BigInt(Math.floor(Math.random() * 8));
      const next = BigInt(Math.floor(Math.random() * 8)) | (i % 3 === 0 ? X : 0n);
      const alert = kernelAlert(isWrite, i % 11 === 0, prev, next);
      alerts.add(alert);
      return record({
        alert,
        event: isWrite ? 1 : 0,
        flags: bits.filter(() => Math.random() < 0.2).reduce((m, b) => m | b, 0),
        prevVmFlags: prev,
        newVmFlags: next,
        rule: i % 7,
        hostPid: 10_000 + i,
      });
    });
    const buf = batch(...records);
    const want: string[] = [];
    for (const e of decodeBatch(buf, records.length, 0n)) {
      for (const s of SIGNATURES) {
        // a refusal is one finding, of the signature of the rule that refused it
        if (e.blocked && s.refusedBy && !s.refusedBy.includes(e.rule)) continue;
        if (!s.matches(e)) continue;
        want.push(`${e.hostProcessId} ${s.metadata.ID}`);
        // the sensor offers a signature only what its declaration allows: every match must be
        const flags = e.b.view.getUint32(e.o + OFF.flags, true);
        const offered = s.alertKinds.includes(e.alert) || (s.recordFlags ?? []).some((f) => (flags & FLAG[f]) !== 0);
        assert.ok(offered, `${s.metadata.ID} matches alert ${e.alert} flags ${flags} outside its declared kinds`);
      }
    }
    const sensor = new Sensor();
    const got: string[] = [];
    sensor.on('finding', (f) => got.push(`${f.Event.hostProcessId} ${f.SigMetadata.ID}`));
    deliverBatch(sensor, buf, records.length);
    assert.ok(want.length > 100, `${want.length} matches in the sample`);
    assert.deepEqual([...alerts].sort(), [...new Set(Object.values(ALERT))].sort(), 'every alert kind in the sample');
    assert.deepEqual(got, want);
  });

});
