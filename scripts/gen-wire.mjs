#!/usr/bin/env node
// The wire contract in one place: reads bpf/wxwatch.h (the header the BPF program and the addon
// compile) and writes lib/wire.ts, the TypeScript view of it: struct wx_record's offsets and member
// types, every enum and every #define. Run before tsc (setup.mjs, npm run build); lib/wire.ts is a build
// output, never edited or committed. The header's own static asserts and the addon's offsetof()
// check at first load (lib/record-layout.ts) catch a generator that got it wrong.
// Usage: node scripts/gen-wire.mjs [HEADER] [OUT]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const header = process.argv[2] ?? join(root, 'bpf', 'wxwatch.h');
const out = process.argv[3] ?? join(root, 'lib', 'wire.ts');

const SIZES = { __u8: 1, __s8: 1, char: 1, __u16: 2, __s16: 2, __u32: 4, __s32: 4, __u64: 8, __s64: 8 };

const text = readFileSync(header, 'utf8')
  .replace(/\/\*[\s\S]*?\*\//g, '') // comments
  .replace(/\\\n/g, ' '); // continued lines

const values = new Map();

/** An integer expression of the header (numbers, names defined above, + - * / << | ( )). */
function evaluate(expr) {
  const js = expr.trim().replace(/\b([A-Z_][A-Z0-9_]*)\b/g, (name) => {
    if (!values.has(name)) throw new Error(`gen-wire: ${name} used before it is defined in ${expr}`);
    return `(${values.get(name)})`;
  });
  if (!/^[\d\s()+\-*/<|x]+$/.test(js.replace(/0x[0-9a-fA-F]+/g, '0'))) throw new Error(`gen-wire: cannot evaluate "${expr}"`);
  return Function(`"use strict"; return (${js});`)();
}

// #define NAME value (integer values only; the include guard has none)
const defines = {};
for (const m of text.matchAll(/^#define\s+(WX_[A-Z0-9_]+)\s+([^\n]+)$/gm)) {
  if (/^WX_ASSERT$/.test(m[1])) continue;
  const value = evaluate(m[2].replace(/\bstatic_assert\b.*$/, ''));
  values.set(m[1], value);
  defines[m[1]] = value;
}

// enum wx_name { NAME = value, ... };
const enums = {};
for (const m of text.matchAll(/enum\s+(wx_\w+)\s*\{([^}]*)\}/g)) {
  const members = {};
  let next = 0;
  for (const item of m[2].split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, expr] = item.split('=').map((s) => s.trim());
    const value = expr === undefined ? next : evaluate(expr);
    values.set(name, value);
    members[name] = value;
    next = value + 1;
  }
  enums[m[1]] = members;
}

// struct wx_record: natural alignment, as the C compiler lays it out (the header has no holes)
const body = /struct\s+wx_record\s*\{([^}]*)\}/.exec(text)?.[1];
if (!body) throw new Error('gen-wire: no struct wx_record');
const offsets = {};
const types = {};
let at = 0;
for (const line of body.split(';').map((s) => s.trim()).filter(Boolean)) {
  const m = /^(\w+)\s+(\w+)(?:\[(\w+)\])?$/.exec(line);
  if (!m) throw new Error(`gen-wire: cannot read member "${line}"`);
  const size = SIZES[m[1]];
  if (!size) throw new Error(`gen-wire: unknown type ${m[1]}`);
  const count = m[3] ? evaluate(m[3]) : 1;
  at = Math.ceil(at / size) * size;
  if (!m[2].startsWith('_pad')) {
    offsets[m[2]] = at;
    types[m[2]] = m[3] ? `${m[1]}[${count}]` : m[1];
  }
  at += size * count;
}
const fixedSize = Math.ceil(at / 8) * 8;
if (fixedSize !== defines.WX_RECORD_FIXED_SIZE) {
  throw new Error(`gen-wire: struct wx_record is ${fixedSize} bytes, WX_RECORD_FIXED_SIZE says ${defines.WX_RECORD_FIXED_SIZE}`);
}

/** enum members without their common prefix: WX_F_HAS_FILE → HAS_FILE. */
function stripped(members, prefix) {
  return Object.fromEntries(Object.entries(members).map(([k, v]) => [k.slice(prefix.length), v]));
}

const lit = (o) => JSON.stringify(o, null, 2).replace(/"(\w+)":/g, '$1:');
writeFileSync(
  out,
  `// Generated from bpf/wxwatch.h by scripts/gen-wire.mjs: do not edit, do not commit.
/** Byte offsets of struct wx_record's fields. */
export const OFF = ${lit(offsets)} as const;
/** Their C types (__u32, __s64, char[16], …): how the decoder reads each. */
export const TYPE = ${lit(types)} as const;
/** The header's #defines. */
export const WX = ${lit(defines)} as const;
export const FLAG = ${lit(stripped(enums.wx_flag, 'WX_F_'))} as const;
export const ALERT_KIND = ${lit(stripped(enums.wx_alert, 'WX_ALERT_'))} as const;
export const SYSCALL = ${lit(stripped(enums.wx_syscall, 'WX_SYS_'))} as const;
export const REGION = ${lit(stripped(enums.wx_region, 'WX_REGION_'))} as const;
export const FILTER_KIND = ${lit(stripped(enums.wx_filter_kind, 'WX_FILTER_'))} as const;
export const COUNTER = ${lit(stripped(enums.wx_counter, 'WX_CNT_'))} as const;
`,
);
