// A JSON writer generated from a field list (lib/shape.ts), once per shape: the text of one
// event or finding as a string. Runs of constant text are joined and escaped once; numbers and
// names are read from the batch and written directly; no walk per finding.
import { FLAG, OFF, TAIL, TYPE } from '../record-layout';
import { charLength, Field, GenericJson, isTail, JsonOptions, reader, RecordRef, writerPrologue } from '../shape';
import { s64Text, u64SumText, u64Text } from '../u64';
import { jsonString } from './escape';

/**
 * A function writing the JSON of one event's `fields` as an object. Runs of constant text (keys,
 * constants) are joined and escaped once; numbers and strings are read from the batch and
 * written directly; what only a function knows is called for.
 */
export function compileJson(fields: readonly Field[], generic: GenericJson, options: JsonOptions = {}): (e: RecordRef) => string {
  // Values the generated code reaches by index: functions and pre-escaped tables.
  const refs: unknown[] = [];
  const ref = (x: unknown) => `R[${refs.push(x) - 1}]`;
  const body: string[] = [];
  let pending = ''; // constant text not yet emitted
  const lit = (s: string) => (pending += s);
  const flushLit = () => {
    if (pending) body.push(`out += ${JSON.stringify(pending)};`);
    pending = '';
  };
  const value = (expr: string) => {
    flushLit();
    body.push(`out += ${expr};`);
  };

  const emit = (f: Field): void => {
    if (options.parsed && f.parsed) return value(`${ref(jsonString)}(${ref(reader(f, true))}(e))`);
    switch (f.kind) {
      case 'int': {
        const m = { __u8: 'getUint8', __u16: 'getUint16', __u32: 'getUint32', __s32: 'getInt32' }[TYPE[f.wire] as string];
        if (!m) throw new Error(`wxwatch: ${f.wire} is not a 32-bit member`);
        return value(`v.${m}(o + ${OFF[f.wire]}${m === 'getUint8' ? '' : ', true'})`);
      }
      case 'low32': {
        const at = OFF[f.wire];
        if (f.signed) return value(`v.getInt32(o + ${at}, true)`);
        return value(f.mask === undefined ? `v.getUint32(o + ${at}, true)` : `(v.getUint32(o + ${at}, true) & ${f.mask})`);
      }
      case 'u64':
      case 'num64': {
        const at = OFF[f.wire];
        const halves = `v.getUint32(o + ${at + 4}, true), v.getUint32(o + ${at}, true)`;
        if (f.kind === 'u64' && f.epoch) return value(`${ref(u64SumText)}(${halves}, b.epochParts)`);
        if (TYPE[f.wire] === '__s64') return value(`${ref(s64Text)}(v.getInt32(o + ${at + 4}, true), v.getUint32(o + ${at}, true))`);
        return value(`${ref(u64Text)}(${halves})`);
      }
      case 'flag':
        return value(`((fl & ${FLAG[f.flag]}) !== 0 ? "true" : "false")`);
      case 'text': {
        if (!isTail(f.text)) return value(`t.cJson(o + ${OFF[f.text]}, ${charLength(f.text)})`);
        const i = TAIL.indexOf(f.text);
        const json = `t.json(s${i}, s${i + 1})`;
        return value(f.onlyIf === undefined ? json : `((fl & ${FLAG[f.onlyIf]}) !== 0 ? ${json} : '""')`);
      }
      case 'enum': {
        const table = f.names.map((n) => jsonString(n));
        const read = { __u8: `v.getUint8(o + ${OFF[f.wire]})`, __u16: `v.getUint16(o + ${OFF[f.wire]}, true)`, __u32: `v.getUint32(o + ${OFF[f.wire]}, true)` }[TYPE[f.wire] as string];
        if (!read) throw new Error(`wxwatch: ${f.wire} cannot index names`);
        return value(`(${ref(table)}[${read}] ?? ${JSON.stringify(jsonString(f.otherwise))})`);
      }
      case 'digest':
        return value(`b.digestJson(e.i)`);
      case 'const':
        return void lit(generic(f.value));
      case 'get':
        return value(f.json ? `${ref(f.json)}(e)` : `${ref(generic)}(${ref(f.get)}(e))`);
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
      // A member that may be absent: its comma goes with it, so it cannot come first.
      if (!i) throw new Error(`wxwatch: the first member (${f.name}) cannot be optional`);
      flushLit();
      body.push(`if (${ref(f.when)}(e)) {`);
      lit(key);
      emit(f);
      flushLit();
      body.push('}');
    });
    lit('}');
  };

  members(fields);
  flushLit();
  const prologue = ['const b = e.b, v = b.view, t = b.text, o = e.o;', writerPrologue(), "let out = '';"];
  const source = `return function json(e) {\n${[...prologue, ...body, 'return out;'].join('\n')}\n}`;
  return new Function('R', source)(refs) as (e: RecordRef) => string;
}

