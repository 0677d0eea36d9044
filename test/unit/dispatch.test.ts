// The batch callback's hot loop delivers exactly the findings the signatures' own conditions
// give (a refusal only to the signatures of its rule), in record order, over records of every
// alert kind, both events, every rule and random flags.
import assert from 'node:assert/strict';
import { decodeBatch } from '../../lib/mem-prot-alert';
import { FLAG } from '../../lib/record-layout';
import { Sensor } from '../../lib/sensor';
import { SIGNATURES } from '../../lib/signatures';
import { deliverBatch } from '../helpers/delivery';
import { batch, record } from '../helpers/records';

describe('dispatch', () => {
  it('delivers exactly the findings each signature matches, one Detection per match', () => {
    const bits = Object.values(FLAG).filter((b) => b !== FLAG.DENIED);
    const records = Array.from({ length: 600 }, (_, i) =>
      record({
        alert: i % 5,
        event: i % 7 === 0 ? 1 : 0,
        flags: bits.filter(() => Math.random() < 0.2).reduce((m, b) => m | b, 0),
        prevVmFlags: BigInt(Math.floor(Math.random() * 8)),
        newVmFlags: BigInt(Math.floor(Math.random() * 8)),
        rule: i % 7,
        hostPid: 10_000 + i,
      }),
    );
    const buf = batch(...records);
    const want: string[] = [];
    for (const e of decodeBatch(buf, records.length, 0n)) {
      for (const s of SIGNATURES) {
        // a refusal is one finding, of the signature of the rule that refused it
        if (e.blocked && s.refusedBy && !s.refusedBy.includes(e.rule)) continue;
        if (s.matches(e)) want.push(`${e.hostProcessId} ${s.metadata.ID}`);
      }
    }
    const sensor = new Sensor();
    const got: string[] = [];
    sensor.on('finding', (f) => got.push(`${f.Event.hostProcessId} ${f.SigMetadata.ID}`));
    deliverBatch(sensor, buf, records.length);
    assert.ok(want.length > 100, `${want.length} matches in the sample`);
    assert.deepEqual(got, want);
  });
});
