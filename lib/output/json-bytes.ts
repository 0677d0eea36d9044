// The same JSON as lib/output/json-text.ts, generated from the same field list, written as UTF-8
// bytes into a growable buffer: what the CLI writes, one batch of lines at a time. A line built
// as a string costs a rope node per piece, a flattening copy and an encoding pass, and the
// collector then walks the rope; bytes cost their own stores.
import * as W from '../byte-writer';
import type { ByteSink } from '../byte-writer';
import { FLAG, OFF, TAIL, TYPE } from '../record-layout';
import { CharWire, charLength, Field, GenericJson, isTail, JsonOptions, reader, RecordRef, Wire, writerPrologue } from '../shape';
import { jsonString } from './escape';

// Constant runs up to this long are written as stores inline; longer ones are copied.
const INLINE_BYTES = 24;
// The most bytes a number takes (a 64-bit value with its sign).
const NUMBER_BYTES = 21;
// The most bytes a name byte becomes in JSON (a control byte: \u001b), and a name's quotes.
const ESCAPED = 6;

/**
 * The same JSON as compileJson, written as bytes into a sink at sink.at (which it advances): the
 * shape's constant text pre-encoded, numbers as digits, plain name bytes copied as they are
 * checked. No string is made for a finding unless a name needs escaping or a `get` entry has
 * only a string to give.
 */
export function compileBytes(fields: readonly Field[], generic: GenericJson, options: JsonOptions = {}): (e: RecordRef, sink: ByteSink) => void {
  const refs: unknown[] = [];
  const ref = (x: unknown) => `R[${refs.push(x) - 1}]`;
  const body: string[] = [];
  let pending = '';
  let staticBytes = 0; // constant text and numbers, at most
  const flushLit = () => {
    if (!pending) return;
    const bytes = Buffer.from(pending);
    staticBytes += bytes.length;
    if (bytes.length <= INLINE_BYTES) body.push(`${[...bytes].map((x, i) => `b[a + ${i}] = ${x};`).join(' ')} a += ${bytes.length};`);
    else body.push(`a = W.bytes(b, a, ${ref(bytes)});`);
    pending = '';
  };
  const lit = (t: string) => (pending += t);
  const code = (c: string) => {
    flushLit();
    body.push(c);
  };
  const number = (c: string) => {
    staticBytes += NUMBER_BYTES;
    code(c);
  };
  // A string only a function knows: room for its UTF-8, then its bytes.
  const dynamic = (expr: string) => code(`{ const x = ${expr}; if (a + 3 * x.length > b.length) b = s.grow(a, 3 * x.length); a = W.str(b, a, x); }`);
  const lits = (t: string, yes: string) => code(`${t} { ${yes} }`);
  const bool = (cond: string) => {
    staticBytes += 5;
    const store = (word: string) => [...Buffer.from(word)].map((x, i) => `b[a + ${i}] = ${x};`).join(' ') + ` a += ${word.length};`;
    lits(`if (${cond})`, store('true'));
    body.push(`else { ${store('false')} }`);
  };

  const emit = (f: Field): void => {
    if (options.parsed && f.parsed) return dynamic(`${ref(jsonString)}(${ref(reader(f, true))}(e))`);
    switch (f.kind) {
      case 'int': {
        const m = { __u8: 'getUint8', __u16: 'getUint16', __u32: 'getUint32', __s32: 'getInt32' }[TYPE[f.wire] as string];
        if (!m) throw new Error(`wxwatch: ${f.wire} is not a 32-bit member`);
        return number(`a = W.${m === 'getInt32' ? 'int' : 'uint'}(b, a, v.${m}(o + ${OFF[f.wire]}${m === 'getUint8' ? '' : ', true'}));`);
      }
      case 'low32': {
        const at = OFF[f.wire];
        if (f.signed) return number(`a = W.int(b, a, v.getInt32(o + ${at}, true));`);
        return number(`a = W.uint(b, a, ${f.mask === undefined ? `v.getUint32(o + ${at}, true)` : `v.getUint32(o + ${at}, true) & ${f.mask}`});`);
      }
      case 'u64':
      case 'num64': {
        const at = OFF[f.wire];
        if (f.kind === 'u64' && f.epoch) return number(`a = W.u64Sum(b, a, v.getUint32(o + ${at + 4}, true), v.getUint32(o + ${at}, true), bv.epochParts);`);
        if (TYPE[f.wire] === '__s64') return number(`a = W.s64(b, a, v.getInt32(o + ${at + 4}, true), v.getUint32(o + ${at}, true));`);
        return number(`a = W.u64(b, a, v.getUint32(o + ${at + 4}, true), v.getUint32(o + ${at}, true));`);
      }
      case 'flag':
        return bool(`(fl & ${FLAG[f.flag]}) !== 0`);
      case 'text': {
        if (!isTail(f.text)) return code(`a = t.cJsonInto(b, a, o + ${OFF[f.text]}, ${charLength(f.text)});`);
        const i = TAIL.indexOf(f.text);
        const write = `a = t.jsonInto(b, a, s${i}, s${i + 1});`;
        if (f.onlyIf === undefined) return code(write);
        staticBytes += 2;
        return lits(`if ((fl & ${FLAG[f.onlyIf]}) !== 0)`, write), void body.push('else { b[a] = 34; b[a + 1] = 34; a += 2; }');
      }
      case 'enum': {
        const table = f.names.map((n) => Buffer.from(jsonString(n)));
        staticBytes += Math.max(...table.map((x) => x.length), Buffer.byteLength(jsonString(f.otherwise)));
        const read = { __u8: `v.getUint8(o + ${OFF[f.wire]})`, __u16: `v.getUint16(o + ${OFF[f.wire]}, true)`, __u32: `v.getUint32(o + ${OFF[f.wire]}, true)` }[TYPE[f.wire] as string];
        if (!read) throw new Error(`wxwatch: ${f.wire} cannot index names`);
        return code(`a = W.bytes(b, a, ${ref(table)}[${read}] ?? ${ref(Buffer.from(jsonString(f.otherwise)))});`);
      }
      case 'digest':
        staticBytes += 66;
        return code(`a = bv.digestJsonInto(b, a, e.i);`);
      case 'const':
        return void lit(generic(f.value));
      case 'get':
        return dynamic(f.json ? `${ref(f.json)}(e)` : `${ref(generic)}(${ref(f.get)}(e))`);
      case 'object':
        return members(f.fields);
      case 'list':
        lit('[');
        f.items.forEach((item, i) => {
          if (i) lit(',');
          if (item.when) throw new Error(`wxwatch: list item ${item.name} cannot be optional`);
          emit(item);
        });
        return void lit(']');
    }
  };

  const members = (list: readonly Field[]) => {
    lit('{');
    list.forEach((f, i) => {
      const key = `${i ? ',' : ''}${JSON.stringify(f.name)}:`;
      if (!f.when) {
        lit(key);
        return emit(f);
      }
      if (!i) throw new Error(`wxwatch: the first member (${f.name}) cannot be optional`);
      code(`if (${ref(f.when)}(e)) {`);
      lit(key);
      emit(f);
      flushLit();
      body.push('}');
    });
    lit('}');
  };

  members(fields);
  flushLit();
  // Every name, escaped at its worst (the code's bytes are not a name: left out).
  const names = [...TAIL.filter((n) => n !== 'code').map((n) => `v.getUint16(o + ${OFF[`${n}_len` as Wire]}, true)`)];
  const chars = (Object.keys(TYPE) as Wire[]).filter((k) => /^char\[/.test(TYPE[k])).map((k) => charLength(k as CharWire));
  const source = `return function bytes(e, s) {
const bv = e.b, v = bv.view, t = bv.text, o = e.o;
${writerPrologue()}
const need = ${staticBytes + chars.reduce((x, y) => x + ESCAPED * y + 2, 0)} + ${ESCAPED} * (${names.join(' + ')}) + ${2 * names.length};
let a = s.at;
let b = a + need > s.buf.length ? s.grow(a, need) : s.buf;
${body.join('\n')}
s.at = a;
}`;
  return new Function('R', 'W', source)(refs, W) as (e: RecordRef, sink: ByteSink) => void;
}

