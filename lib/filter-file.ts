// The --filter-file: {"allow": {...}, "scope": {...}}, read with a size bound from a regular file
// only. Opened non-blocking, so a FIFO cannot stall the event loop before it is refused.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { parseSelector, ProcessSelector } from './filters';

export const MAX_FILTER_FILE_BYTES = 1 << 20;

function readBounded(file: string): string {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new TypeError(`${file}: not a regular file`);
    if (st.size > MAX_FILTER_FILE_BYTES) throw new RangeError(`${file}: larger than ${MAX_FILTER_FILE_BYTES} bytes`);
    // The size may change under us: read at most one byte past the bound to notice.
    const buf = Buffer.alloc(MAX_FILTER_FILE_BYTES + 1);
    let n = 0;
    for (let got; n < buf.length && (got = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += got;
    if (n > MAX_FILTER_FILE_BYTES) throw new RangeError(`${file}: larger than ${MAX_FILTER_FILE_BYTES} bytes`);
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

/** The file's selectors, checked by the same rules as the API's (paths are checked on encode). */
export function readFilterFile(file: string): { allow: ProcessSelector; scope: ProcessSelector } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readBounded(file));
  } catch (err) {
    if (err instanceof SyntaxError) throw new SyntaxError(`${file}: not JSON: ${err.message}`);
    throw err;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TypeError(`${file}: expected a JSON object`);
  const { allow, scope, ...rest } = parsed as Record<string, unknown>;
  if (Object.keys(rest).length) throw new TypeError(`${file}: unknown field "${Object.keys(rest)[0]}" (known: allow, scope)`);
  return { allow: parseSelector(allow, `${file}: allow`), scope: parseSelector(scope, `${file}: scope`) };
}
