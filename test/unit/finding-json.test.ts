// Point 8 of issue 10: a finding serialises to the documented detection JSON however it is
// asked (JSON.stringify, toJson), and JSON escapes what the README promises.
import assert from 'node:assert/strict';
import { detectionJson, toJson } from '../../lib/output/json';
import { Sensor } from '../../lib/sensor';
import { Finding } from '../../lib/signatures/signature';
import { deliverBatch } from '../helpers/delivery';
import { batch, record, RecordFields } from '../helpers/records';
import { TRACEE_FIELDS } from '../helpers/tracee';

/** A finding as the sensor delivers it. */
function delivered(fields: RecordFields = {}): Finding {
  const sensor = new Sensor();
  const seen: Finding[] = [];
  sensor.on('finding', (f) => seen.push(f));
  deliverBatch(sensor, batch(record(fields)), 1);
  assert.equal(seen.length, 1);
  return seen[0];
}

describe('finding JSON', () => {
  it('JSON.stringify(finding) gives the detection JSON, without throwing on 64-bit values', () => {
    const f = delivered({ addr: 0x7fff_ffff_f000_1001n, inode: 42n });
    const parsed = JSON.parse(JSON.stringify(f));
    assert.deepEqual(Object.keys(parsed), [...TRACEE_FIELDS, 'wxwatch']);
    assert.equal(parsed.eventName, 'dynamic_code_loading');
    const args = parsed.args[0].value.args;
    assert.equal(args[1].value, '9223372036586344449', 'beyond 2^53: decimal digits, exact');
    assert.equal(args[7].value, 42, 'within 2^53: a number');
  });

  it('JSON.stringify(finding) carries no private fields', () => {
    const text = JSON.stringify(delivered());
    assert.ok(text.length < 8192, `${text.length} bytes`);
    assert.doesNotMatch(text, /"(b|o|view|bytes|bootToEpochNs)":/);
  });

  it('toJson(finding) is the detection JSON, not a walk of its internals', () => {
    const f = delivered();
    assert.equal(toJson(f), detectionJson(f));
    assert.equal(JSON.parse(toJson(f.Event)).processName, 'wxfix');
    assert.ok(toJson(f.Event).length < 8192);
  });

  it('JSON.stringify(event) works and toJson(event) stays exact', () => {
    const f = delivered({ addr: 0x7fff_ffff_f000_1001n });
    assert.equal(JSON.parse(JSON.stringify(f.Event)).args[1].value, '9223372036586344449');
    assert.match(toJson(f.Event), /"value":9223372036586344449/);
  });

  it('escapes bidi controls in JSON as in text (U+202E and friends)', () => {
    const comm = 'a\u202eb\u2066c';
    const text = detectionJson(delivered({ comm, exe: '/tmp/x\u200f\u061cy' }));
    assert.doesNotMatch(text, /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/);
    assert.match(text, /\\u202e/);
    assert.equal(JSON.parse(text).processName, comm, 'escaped, not altered');
  });
});
