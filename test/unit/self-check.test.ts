// Another sensor's self-check page is recognised by the hash of the whole page, and nothing else is.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeBatch } from '../../lib/mem-prot-alert';
import { FLAG } from '../../lib/record-layout';
import { isSelfCheckOfASensor, probePage, PROBE_PAGE_SHA256 } from '../../lib/self-check';
import { batch, record, RecordFields } from '../helpers/records';

const event = (f: RecordFields) => decodeBatch(batch(record(f)), 1, 0n)[0];

describe("another sensor's self-check", () => {
  it('is the W→X of the probe page, captured whole', () => {
    assert.equal(PROBE_PAGE_SHA256, createHash('sha256').update(probePage()).digest('hex'));
    assert.equal(isSelfCheckOfASensor(event({ code: probePage() })), true);
  });

  const cases: Array<[string, RecordFields]> = [
    ['one byte of the page changed', { code: Object.assign(probePage(), { 4095: 0x90 }) }],
    ['code after the marker', { code: Object.assign(probePage(), { 64: 0xcc }) }],
    ['the page as the first of a larger window (truncated)', { code: probePage(), codeWindow: 8192, flags: FLAG.CODE_TRUNCATED }],
    ['a page not read (unreadable)', { code: probePage(), codeMissing: 1 }],
    ['no code captured (captureBytes 0)', {}],
    ['a W→X refused by enforcement (blocked)', { code: probePage(), flags: FLAG.BLOCKED }],
    ['not a W→X (alert 2)', { code: probePage(), alert: 2 }],
  ];
  for (const [what, fields] of cases) {
    it(`is not: ${what}`, () => assert.equal(isSelfCheckOfASensor(event(fields)), false));
  }
});
