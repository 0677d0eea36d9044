// Names from the kernel are bytes: those that are not UTF-8 are escaped (\xNN, and a backslash
// \\), never replaced by U+FFFD, so the reported path still names the file, in JSON and in text.
import assert from 'node:assert/strict';
import { decodeBatch } from '../../lib/mem-prot-alert';
import { ByteSink } from '../../lib/byte-writer';
import { detectionJson, detectionJsonInto } from '../../lib/output/json';
import { detectionLine } from '../../lib/output/text';
import { TRC104 } from '../../lib/signatures/trc104';
import { FLAG } from '../../lib/record-layout';
import { batch, record, RecordFields } from '../helpers/records';

function finding(fields: RecordFields) {
  const [event] = decodeBatch(batch(record(fields)), 1, 0n);
  return { SigMetadata: TRC104.metadata, Event: event, Data: null };
}

/** The bytes an escaped name stands for (what a reader does with the documented form). */
function bytesOf(name: string): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < name.length; ) {
    if (name.startsWith('\\\\', i)) {
      parts.push(Buffer.from('\\'));
      i += 2;
    } else if (name.startsWith('\\x', i)) {
      parts.push(Buffer.from([parseInt(name.slice(i + 2, i + 4), 16)]));
      i += 4;
    } else {
      const ch = String.fromCodePoint(name.codePointAt(i)!);
      parts.push(Buffer.from(ch));
      i += ch.length;
    }
  }
  return Buffer.concat(parts);
}

const raw = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

describe('names that are not UTF-8', () => {
  const cases: Array<[string, Buffer, string]> = [
    ['a lone high byte', raw('/tmp/a', [0xff], 'b'), '/tmp/a\\xffb'],
    ['a truncated sequence', raw('/tmp/', [0xe2, 0x82]), '/tmp/\\xe2\\x82'],
    ['an overlong encoding of "/"', raw('/x', [0xc0, 0xaf], 'y'), '/x\\xc0\\xafy'],
    ['an encoded surrogate', raw('/s', [0xed, 0xa0, 0x80]), '/s\\xed\\xa0\\x80'],
    ['a backslash next to them', raw('/b\\', [0x80]), '/b\\\\\\x80'],
  ];
  for (const [what, bytes, escaped] of cases) {
    it(`${what}: escaped in the path, in JSON and in text, and the bytes come back`, () => {
      const f = finding({ path: bytes, exe: bytes, flags: FLAG.HAS_FILE });
      assert.equal(f.Event.pathname, escaped);
      assert.doesNotMatch(f.Event.pathname, /\ufffd/);
      const parsed = JSON.parse(detectionJson(f));
      assert.equal(parsed.executable.path, escaped);
      assert.equal(parsed.args[0].value.args[5].value, escaped);
      assert.deepEqual(bytesOf(parsed.executable.path), bytes, 'lossless');
      const sink = new ByteSink(8);
      detectionJsonInto(f, sink);
      assert.equal(sink.buf.subarray(0, sink.at).toString(), detectionJson(f), 'bytes as the string');
      assert.ok(detectionLine(f).includes(`exe="${escaped}"`), detectionLine(f));
    });
  }

  it('keeps valid UTF-8 as its characters (é, 中, an emoji) and a comm cut mid-character escaped', () => {
    const f = finding({ exe: '/opt/café/中/🚀', comm: raw('ab', [0xc3]) });
    assert.equal(f.Event.executable.path, '/opt/café/中/🚀');
    assert.equal(JSON.parse(detectionJson(f)).executable.path, '/opt/café/中/🚀');
    assert.equal(f.Event.processName, 'ab\\xc3');
  });

  it('still escapes controls in text as \\xNN, quoted, beside escaped bytes', () => {
    const f = finding({ comm: raw('e', [0x1b], '[31m', [0xff]) });
    assert.match(detectionLine(f), /comm="e\\x1b\[31m\\xff"/);
  });
});
