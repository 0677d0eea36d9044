// Strings in events come from watched processes (names, paths): attacker-controlled. Every
// output escapes them so that no control character reaches a terminal or a log parser.

// JSON.stringify escapes C0 controls, '"' and '\'; these it leaves: DEL, C1 controls (0x9b is
// an 8-bit CSI), the JavaScript line separators, and bidi controls (U+202E reverses how a log
// viewer shows the rest of a line).
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

// Anything JSON.stringify would escape, what JSON_UNSAFE adds, and lone surrogates.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]/;

export function jsonString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`; // the common case: nothing to escape
  return JSON.stringify(s).replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// Anything that is not printable: C0, DEL, C1, line/paragraph separators, bidi controls, and
// the replacement character (a name's undecodable bytes arrive as \xNN instead).
const TERMINAL_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffd\\"]/g;

function terminalEscape(c: string): string {
  if (c === '\\' || c === '"') return `\\${c}`;
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** A double-quoted string safe to print on a terminal: \xNN / \uNNNN for what is not printable. */
export function terminalString(s: string): string {
  return `"${s.replace(TERMINAL_UNSAFE, terminalEscape)}"`;
}

// The same, but for a name from a record, whose backslashes are already escapes (lib/record-text.ts:
// a byte that is not UTF-8 is \xNN, a backslash \\): they stay as they are.
const NAME_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffd"]/g;

/** A record's name quoted for a terminal: \xNN for bytes and controls alike, \\ a backslash. */
export function terminalName(s: string): string {
  return `"${s.replace(NAME_UNSAFE, terminalEscape)}"`;
}
