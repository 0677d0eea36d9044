import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeBatch } from '../../lib/mem-prot-alert';
import { detectionJson, toJson } from '../../lib/output/json';
import { detectionLine, eventLine } from '../../lib/output/text';
import { Finding } from '../../lib/signatures/signature';
import { TRC104 } from '../../lib/signatures/trc104';
import { FLAG } from '../../lib/record-layout';
import { batch, record, RecordFields } from '../helpers/records';
import { TRACEE_FIELDS } from '../helpers/tracee';

function finding(fields: RecordFields = {}): Finding {
  const [event] = decodeBatch(batch(record(fields)), 1, 0n);
  return { SigMetadata: TRC104.metadata, Event: event, Data: null };
}

describe('detection JSON', () => {
  it("has Tracee's fields in Tracee's order, then wxwatch's extras", () => {
    const parsed = JSON.parse(detectionJson(finding()));
    assert.deepEqual(Object.keys(parsed), [...TRACEE_FIELDS, 'wxwatch']);
    assert.equal(parsed.eventName, 'dynamic_code_loading');
    assert.equal(parsed.argsNum, 1);
    assert.equal(parsed.args[0].name, 'detectedFrom');
    assert.equal(parsed.args[0].value.name, 'mem_prot_alert');
    assert.equal(parsed.args[0].value.args.length, 9);
    assert.equal(parsed.metadata.Properties.signatureID, 'TRC-104');
    assert.equal(parsed.metadata.Properties.signatureName, 'Dynamic code loading detected');
  });

  it('writes 64-bit integers exactly', () => {
    const addr = 0x7fff_ffff_f000_1001n; // not representable as a double
    assert.notEqual(BigInt(Number(addr)), addr);
    const text = detectionJson(finding({ addr }));
    assert.ok(text.includes(`"name":"addr","type":"void*","value":${addr}}`), text);
  });

  it('renders arguments for people on request', () => {
    const parsed = JSON.parse(detectionJson(finding({ prot: 5, prevVmFlags: 0x73n }), { parseArguments: true }));
    const args = Object.fromEntries(parsed.args[0].value.args.map((a: { name: string; value: unknown }) => [a.name, a.value]));
    assert.equal(args.alert, 'Protection changed from W to E!');
    assert.equal(args.prot, 'PROT_READ|PROT_EXEC');
    assert.equal(args.prev_prot, 'PROT_READ|PROT_WRITE');
    assert.equal(args.addr, '0x7f0000001000');
  });

  it('escapes control characters from watched processes', () => {
    const text = detectionJson(finding({ comm: 'a\u001b[2J\u009bb', exe: '/x\u2028y' }));
    assert.doesNotMatch(text, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    assert.equal(JSON.parse(text).processName, 'a\u001b[2J\u009bb', 'escaped, not altered');
  });

  it('toJson refuses nothing it is given and drops undefined fields', () => {
    assert.equal(toJson({ a: 1n, b: undefined, c: [true, null], d: NaN }), '{"a":1,"c":[true,null],"d":null}');
  });
});

describe('no hash where no byte was read', () => {
  it('writes sha256 null when every page of the window was unreadable, the window still described', () => {
    const f = finding({ codeWindow: 8192, codeMissing: 0b11, codeAddr: 0x7f0000000000n });
    assert.equal(f.Event.wxwatch.code?.sha256, null);
    const code = JSON.parse(detectionJson(f)).wxwatch.code;
    assert.deepEqual(code, { sha256: null, addr: 0x7f0000000000, bytes: 8192, truncated: false, unreadablePages: [0, 1] });
  });

  it("reads the digest the drain thread wrote after the records when bytes were read", () => {
    const f = finding({ code: new Uint8Array([0xc3]), codeWindow: 4096 });
    assert.equal(f.Event.wxwatch.code?.sha256, createHash('sha256').update(Buffer.from([0xc3])).digest('hex'));
  });
});

describe('text line', () => {
  it('prints an --alerts event as text, with its kind, not as JSON', () => {
    const [event] = decodeBatch(batch(record({ alert: 2, prot: 5, prevVmFlags: 0x71n })), 1, 0n);
    const line = eventLine(event);
    assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z mem_prot_alert 2 Protection changed to Executable!: pid=1234 /);
    assert.doesNotMatch(line, /^\{/);
  });

  it('prints a --denied event as text, with the refusing error', () => {
    const [event] = decodeBatch(batch(record({ flags: FLAG.DENIED, ret: -13n })), 1, 0n);
    assert.match(eventLine(event), / mem_prot_denied ret=-13: pid=1234 /);
  });

  it('escapes names so no terminal sequence survives', () => {
    const line = detectionLine(finding({ comm: 'evil\u001b]0;pwn\u0007', path: '/tmp/\u001b[31mred', flags: 1 }));
    assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f]/);
    assert.match(line, /comm="evil\\x1b\]0;pwn\\x07"/);
    assert.match(line, /TRC-104/);
  });
});
