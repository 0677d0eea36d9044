// --capture-dir: each distinct piece of code a finding made executable is written once, named by
// its SHA-256, for a responder to scan. The sensor runs as root and the bytes come from the
// watched process: files are created 0600, never through a symlink (O_NOFOLLOW, O_EXCL), in a
// directory that must be a real directory, and the total written is bounded.
import { closeSync, constants, lstatSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Finding } from '../signatures/signature';

export class CaptureDir {
  /** Bytes in the directory (at start, plus what this run wrote). */
  private used = 0;
  written = 0;
  skippedFull = 0;
  errors = 0;

  constructor(
    readonly dir: string,
    readonly maxBytes = 256 << 20,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (!st.isDirectory()) throw new TypeError(`wxwatch: --capture-dir ${dir} is not a directory (a symlink is refused)`);
    for (const name of readdirSync(dir)) {
      const file = lstatSync(path.join(dir, name));
      if (file.isFile()) this.used += file.size;
    }
  }

  /** Stores the finding's code unless already stored; returns the file, or null. */
  store(finding: Finding): string | null {
    const code = finding.Event.wxwatch.code;
    const bytes = finding.Event.codeBytes;
    if (!code || !bytes.length) return null;
    const file = path.join(this.dir, `${code.sha256}.bin`);
    if (this.used + bytes.length > this.maxBytes) {
      this.skippedFull++;
      return null;
    }
    let fd: number;
    try {
      fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statSync(file).isFile()) return file; // stored before
      this.errors++;
      return null;
    }
    try {
      writeSync(fd, bytes);
      this.used += bytes.length;
      this.written++;
    } catch {
      this.errors++;
    } finally {
      closeSync(fd);
    }
    return file;
  }
}
