// The record layout the decoder reads, from lib/wire.ts (generated from bpf/wxwatch.h at build
// time: no hand copy), and checked against the addon's own offsetof() values when the addon
// loads (lib/native.ts): a stale build on either side fails loudly instead of decoding garbage.
import type { NativeLayout } from './native';
import { FLAG, OFF, TYPE, WX } from './wire';

export { FLAG, OFF, TYPE };
/** The record's tail after the fixed part, in order, each `<name>_len` bytes long (bpf/wxwatch.h:
 * the strings back to back, then the code). */
export const TAIL = ['uts', 'path', 'exe', 'cgroup', 'target_exe', 'code'] as const;
export const FIXED_SIZE = WX.WX_RECORD_FIXED_SIZE;
export const ALIGN = WX.WX_RECORD_ALIGN;
/** The most code bytes a record carries and the page they are read by. */
export const CODE_MAX = WX.WX_CODE_MAX;
export const CODE_PAGE = WX.WX_CODE_PAGE;
/** The largest record: fixed part, UTS name, two paths, two cgroup names, code. */
export const MAX_SIZE = WX.WX_RECORD_MAX_SIZE;
export const COMM_LEN = WX.WX_COMM_LEN;

/** Throws if the layout compiled into the addon differs from the one above. */
export function checkLayout(native: NativeLayout): void {
  const problems: string[] = [];
  if (native.fixedSize !== FIXED_SIZE) problems.push(`size ${native.fixedSize} != ${FIXED_SIZE}`);
  if (native.maxSize !== MAX_SIZE) problems.push(`max size ${native.maxSize} != ${MAX_SIZE}`);
  if (native.align !== ALIGN) problems.push(`align ${native.align} != ${ALIGN}`);
  if (native.commLen !== COMM_LEN) problems.push(`comm ${native.commLen} != ${COMM_LEN}`);
  const names = new Set([...Object.keys(native.offsets), ...Object.keys(OFF)]);
  for (const name of names) {
    const mine = (OFF as Record<string, number>)[name];
    if (mine !== native.offsets[name]) problems.push(`${name} at ${native.offsets[name]} != ${mine}`);
  }
  if (problems.length) throw new Error(`wxwatch: record layout mismatch with the addon: ${problems.join('; ')}`);
}
