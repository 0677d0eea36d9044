// The vocabulary of lib/event-fields.ts, the one list of what an event and a finding carry: each
// entry names a JSON key and where its value comes from (a struct member, a flag, a string of the
// record's tail, a constant, a function), and this file turns such a list into what reads it:
// lazy getters and the plain object. The JSON writers generated from the same list, once per
// shape, are lib/output/json-text.ts (a string) and lib/output/json-bytes.ts (bytes).
import type { BatchView } from './batch-view';
import { FIXED_SIZE, FLAG, OFF, TAIL, TYPE } from './record-layout';

/** A record in a batch: what every entry's function reads (a MemProtAlert is one). */
export interface RecordRef {
  readonly b: BatchView;
  /** The record's offset in the batch, and its index. */
  readonly o: number;
  readonly i: number;
}

export type Wire = keyof typeof OFF;
type Kind<K extends Wire> = (typeof TYPE)[K];
/** Members a number holds (up to 32 bits). */
export type IntWire = { [K in Wire]: Kind<K> extends '__u64' | '__s64' ? never : Kind<K> extends `char${string}` ? never : K }[Wire];
/** 64-bit members. */
export type BigWire = { [K in Wire]: Kind<K> extends '__u64' | '__s64' ? K : never }[Wire];
export type FlagName = keyof typeof FLAG;
/** NUL-padded char arrays of the fixed part (comm, target_comm). */
export type CharWire = { [K in Wire]: Kind<K> extends `char[${string}]` ? K : never }[Wire];
type TailText = Exclude<(typeof TAIL)[number], 'code'>;
/** The record's tail strings (lib/record-layout.ts TAIL), and its char arrays. */
export type TextName = TailText | CharWire;

export const isTail = (which: TextName): which is TailText => (TAIL as readonly string[]).includes(which);
/** A char array's length, from its C type (char[16]). */
export const charLength = (which: CharWire) => Number(/\[(\d+)\]/.exec(TYPE[which])![1]);

export interface Entry<N extends string> {
  /** The JSON key (and, at the top level, the event's property). */
  name: N;
  /** The property of the event that reads it, for an entry below the top level. */
  prop?: string;
  /** Present only when this says so (an object or a value left out of the JSON otherwise). */
  when?: (e: RecordRef) => boolean;
  /** How --parse-arguments renders the value, for people. */
  parsed?: (value: never) => string;
}

export type Field =
  | (Entry<string> & { kind: 'int'; wire: IntWire })
  | (Entry<string> & { kind: 'low32'; wire: BigWire; signed: boolean; mask?: number })
  | (Entry<string> & { kind: 'u64'; wire: BigWire; epoch?: boolean })
  | (Entry<string> & { kind: 'num64'; wire: BigWire })
  | (Entry<string> & { kind: 'flag'; flag: FlagName })
  | (Entry<string> & { kind: 'text'; text: TextName; onlyIf?: FlagName })
  | (Entry<string> & { kind: 'enum'; wire: IntWire; names: readonly string[]; otherwise: string })
  | (Entry<string> & { kind: 'digest' })
  | (Entry<string> & { kind: 'const'; value: unknown })
  | (Entry<string> & { kind: 'get'; get: (e: RecordRef) => unknown; json?: (e: RecordRef) => string })
  | (Entry<string> & { kind: 'object'; fields: readonly Field[] })
  | (Entry<string> & { kind: 'list'; items: readonly Field[] });

// --- the list's constructors: each keeps its name's (and prop's) literal type, for the types
// below (NoInfer: a prop is what was passed, never what the list's element type suggests) ---
type Opt<P extends string> = { prop?: P; parsed?: (value: never) => string };
type With<P extends string, T> = T & { prop?: NoInfer<P>; parsed?: (value: never) => string };
export const int = <N extends string, P extends string = never>(name: N, wire: IntWire, o: Opt<P> = {}): With<P, { name: N; kind: 'int'; wire: IntWire }> => ({ ...o, name, kind: 'int', wire });
export const low32 = <N extends string, P extends string = never>(
  name: N,
  wire: BigWire,
  signed: boolean,
  mask?: number,
  o: Opt<P> = {},
): With<P, { name: N; kind: 'low32'; wire: BigWire; signed: boolean; mask?: number }> => ({ ...o, name, kind: 'low32', wire, signed, mask });
export const u64 = <N extends string, P extends string = never>(name: N, wire: BigWire, o: Opt<P> = {}): With<P, { name: N; kind: 'u64'; wire: BigWire }> => ({ ...o, name, kind: 'u64', wire });
/** A boot-clock time in the record, as epoch nanoseconds (the batch's clock offset added). */
export const epoch = <N extends string>(name: N, wire: BigWire) => ({ name, kind: 'u64' as const, wire, epoch: true });
/** A 64-bit member delivered as a number (JSON still writes it exactly). */
export const num64 = <N extends string, P extends string = never>(name: N, wire: BigWire, o: Opt<P> = {}): With<P, { name: N; kind: 'num64'; wire: BigWire }> => ({ ...o, name, kind: 'num64', wire });
export const flag = <N extends string, P extends string = never>(name: N, bit: FlagName, o: Opt<P> = {}): With<P, { name: N; kind: 'flag'; flag: FlagName }> => ({ ...o, name, kind: 'flag', flag: bit });
export const text = <N extends string, P extends string = never>(
  name: N,
  which: TextName,
  o: Opt<P> & { onlyIf?: FlagName } = {},
): With<P, { name: N; kind: 'text'; text: TextName; onlyIf?: FlagName }> => ({ ...o, name, kind: 'text', text: which });
export const enumOf = <N extends string, S extends string>(name: N, wire: IntWire, names: readonly S[], otherwise: S) => ({ name, kind: 'enum' as const, wire, names, otherwise });
/** The SHA-256 (hex) the drainer computed of the record's code; null when no byte was read. */
export const digest = <N extends string>(name: N) => ({ name, kind: 'digest' as const });
export const constant = <N extends string, V>(name: N, value: V) => ({ name, kind: 'const' as const, value });
/** Computed from the record; `json` writes it faster than the generic serialiser would. */
export const get = <N extends string, V>(name: N, fn: (e: RecordRef) => V, json?: (e: RecordRef) => string) => ({ name, kind: 'get' as const, get: fn, json });
export const object = <N extends string, L extends readonly Field[], P extends string = never>(
  name: N,
  fields: L,
  o: Opt<P> = {},
): With<P, { name: N; kind: 'object'; fields: L }> => ({ ...o, name, kind: 'object', fields });
export const list = <N extends string, L extends readonly Field[]>(name: N, items: L) => ({ name, kind: 'list' as const, items });
/** The entry, present only when `when` says so (left out of the JSON otherwise). */
export const optional = <F extends Field>(field: F, when: (e: RecordRef) => boolean) => ({ ...field, when });

// --- the TypeScript types of what a list describes ---
type Value<F> = F extends { kind: 'int' | 'low32' | 'num64' }
  ? number
  : F extends { kind: 'u64' }
    ? bigint
    : F extends { kind: 'flag' }
      ? boolean
      : F extends { kind: 'text' }
        ? string
        : F extends { kind: 'enum'; names: readonly (infer S)[] }
          ? S
          : F extends { kind: 'digest' }
            ? string | null
            : F extends { kind: 'const'; value: infer V }
              ? V
              : F extends { kind: 'get'; get: (e: never) => infer V }
                ? V
                : F extends { kind: 'object'; fields: infer L extends readonly Field[] }
                  ? Values<L>
                  : F extends { kind: 'list'; items: infer L extends readonly Field[] }
                    ? Array<Value<L[number]>>
                    : never;

/** The plain object a list of fields describes: optional where an entry has `when`. */
export type Values<L extends readonly Field[]> = {
  -readonly [F in L[number] as F extends { when: unknown } ? never : F['name']]: Value<F>;
} & {
  -readonly [F in L[number] as F extends { when: unknown } ? F['name'] : never]?: Value<F>;
};

// Entries down to three levels (top, object or list, their members) that expose a property on
// the event (`prop`), as a union: deep enough for args and wxwatch, shallow enough for tsc.
type Members<F> = F extends { kind: 'object'; fields: infer L extends readonly Field[] }
  ? L[number]
  : F extends { kind: 'list'; items: infer L extends readonly Field[] }
    ? L[number]
    : never;
type StringIn<P> = P extends string ? P : never;
type PropOf<F> = F extends unknown ? ('prop' extends keyof F ? (F extends { prop?: infer P } ? StringIn<P> : never) : never) : never;
type WithProp<F> = F extends unknown ? ([PropOf<F>] extends [never] ? never : F) : never;
type PropLeaves<F> = WithProp<F> | WithProp<Members<F>> | WithProp<Members<Members<F>>>;
/** Properties that entries below the top level expose on the event (`prop`). */
export type AllProps<L extends readonly Field[]> = {
  -readonly [F in PropLeaves<L[number]> as PropOf<F>]: F extends { when: unknown }
    ? Value<F> | undefined
    : Value<F>;
};

// --- reading: one function per entry, from the event ---
const TWO32 = 4294967296;
const FLAGS = OFF.flags;

// Each tail part's length member: every part's is a __u16 but the code's (last), a __u32.
const TAIL_LEN_AT = TAIL.map((name) => (name === 'code' ? OFF.code_len : OFF[`${name}_len`]));
const TAIL_INDEX = Object.fromEntries(TAIL.map((name, i) => [name, i])) as Record<(typeof TAIL)[number], number>;
const CODE_INDEX = TAIL_INDEX.code;

/** Where tail part `index` of the record at o starts (the parts before it, back to back). */
function tailStart(v: DataView, o: number, index: number): number {
  let at = o + FIXED_SIZE;
  for (let i = 0; i < index; i++) at += v.getUint16(o + TAIL_LEN_AT[i], true);
  return at;
}

/** Where the captured code of the record at o starts. */
export function codeStart(v: DataView, o: number): number {
  return tailStart(v, o, CODE_INDEX);
}

/** Where tail string `which` of the record at o starts and ends. */
export function tailSpan(v: DataView, o: number, which: (typeof TAIL)[number]): [number, number] {
  const index = TAIL_INDEX[which];
  const at = tailStart(v, o, index);
  const len = index === CODE_INDEX ? v.getUint32(o + TAIL_LEN_AT[index], true) : v.getUint16(o + TAIL_LEN_AT[index], true);
  return [at, at + len];
}

function intReader(wire: Wire): (v: DataView, at: number) => number {
  switch (TYPE[wire]) {
    case '__u8':
      return (v, at) => v.getUint8(at);
    case '__u16':
      return (v, at) => v.getUint16(at, true);
    case '__s32':
      return (v, at) => v.getInt32(at, true);
    case '__u32':
      return (v, at) => v.getUint32(at, true);
    default:
      throw new Error(`wxwatch: ${wire} (${TYPE[wire]}) is not a 32-bit member`);
  }
}

/** The value of a field for one event (objects and lists built afresh); with `parsed`, as
 * people read it where the entry says how. */
export function reader(f: Field, parsed = false): (e: RecordRef) => unknown {
  let read = readerOf(f, parsed);
  if (parsed && f.parsed) {
    const raw = read;
    const parse = f.parsed as (v: unknown) => string;
    read = (e) => parse(raw(e));
  }
  const when = f.when;
  return when ? (e) => (when(e) ? read(e) : undefined) : read;
}

function readerOf(f: Field, parsed: boolean): (e: RecordRef) => unknown {
  switch (f.kind) {
    case 'int': {
      const read = intReader(f.wire);
      const at = OFF[f.wire];
      return (e) => read(e.b.view, e.o + at);
    }
    case 'low32': {
      const at = OFF[f.wire];
      const mask = f.mask;
      if (f.signed) return (e) => e.b.view.getInt32(e.o + at, true);
      return mask === undefined ? (e) => e.b.view.getUint32(e.o + at, true) : (e) => e.b.view.getUint32(e.o + at, true) & mask;
    }
    case 'u64': {
      const at = OFF[f.wire];
      const signed = TYPE[f.wire] === '__s64';
      if (f.epoch) return (e) => e.b.view.getBigUint64(e.o + at, true) + e.b.bootToEpochNs;
      return signed ? (e) => e.b.view.getBigInt64(e.o + at, true) : (e) => e.b.view.getBigUint64(e.o + at, true);
    }
    case 'num64': {
      const at = OFF[f.wire];
      if (TYPE[f.wire] === '__s64') return (e) => e.b.view.getInt32(e.o + at + 4, true) * TWO32 + e.b.view.getUint32(e.o + at, true);
      return (e) => e.b.view.getUint32(e.o + at + 4, true) * TWO32 + e.b.view.getUint32(e.o + at, true);
    }
    case 'flag': {
      const bit = FLAG[f.flag];
      return (e) => (e.b.view.getUint32(e.o + FLAGS, true) & bit) !== 0;
    }
    case 'text': {
      const only = f.onlyIf === undefined ? 0 : FLAG[f.onlyIf];
      if (!isTail(f.text)) {
        const at = OFF[f.text];
        const len = charLength(f.text);
        return (e) => e.b.text.cText(e.o + at, len);
      }
      const which = f.text;
      return (e) => {
        if (only && !(e.b.view.getUint32(e.o + FLAGS, true) & only)) return '';
        const [start, end] = tailSpan(e.b.view, e.o, which);
        return e.b.text.text(start, end);
      };
    }
    case 'enum': {
      const read = intReader(f.wire);
      const at = OFF[f.wire];
      const { names, otherwise } = f;
      return (e) => names[read(e.b.view, e.o + at)] ?? otherwise;
    }
    case 'digest':
      return (e) => e.b.digestHex(e.i);
    case 'const': {
      const value = f.value;
      // A fresh copy of an object or array each time: a consumer may change what it gets.
      return typeof value === 'object' && value !== null ? () => structuredClone(value) : () => value;
    }
    case 'get':
      return f.get;
    case 'object': {
      const names = f.fields.map((c) => c.name);
      const reads = f.fields.map((c) => reader(c, parsed));
      return (e) => {
        const out: Record<string, unknown> = {};
        for (let i = 0; i < names.length; i++) out[names[i]] = reads[i](e);
        return out;
      };
    }
    case 'list': {
      const reads = f.items.map((c) => reader(c, parsed));
      return (e) => reads.map((read) => read(e));
    }
  }
}

/** Defines a getter on proto for every top-level entry and every entry with `prop`. */
export function installGetters(proto: object, fields: readonly Field[]): void {
  const define = (name: string, f: Field) => {
    const read = reader(f);
    Object.defineProperty(proto, name, {
      get(this: RecordRef) {
        return read(this);
      },
      configurable: true,
      enumerable: false,
    });
  };
  const walk = (f: Field) => {
    if (f.prop) define(f.prop, f);
    if (f.kind === 'object') f.fields.forEach(walk);
    if (f.kind === 'list') f.items.forEach(walk);
  };
  for (const f of fields) {
    define(f.name, f);
    walk(f);
  }
}

/** Generic JSON of plain data, for constants and `get` entries without their own `json`. */
export type GenericJson = (value: unknown) => string;

export interface JsonOptions {
  /** Render values for people where an entry says how (`parsed`). */
  parsed?: boolean;
}

/** The prologue every generated writer shares: the record, its flags and its tail's spans
 * (s0 … s<n>, one per TAIL part and its end). */
export function writerPrologue(): string {
  const spans = TAIL.map((name, i) => {
    const len = name === 'code' ? `v.getUint32(o + ${OFF.code_len}, true)` : `v.getUint16(o + ${OFF[`${name}_len` as Wire]}, true)`;
    return `s${i + 1} = s${i} + ${len}`;
  });
  return `const fl = v.getUint32(o + ${FLAGS}, true);\nconst s0 = o + ${FIXED_SIZE}, ${spans.join(', ')};`;
}

/** The plain object of one event's fields, in order (64-bit values as bigint). */
export function compileObject(fields: readonly Field[], options: JsonOptions = {}): (e: RecordRef) => Record<string, unknown> {
  return readerOf({ name: '', kind: 'object', fields }, options.parsed === true) as (e: RecordRef) => Record<string, unknown>;
}
