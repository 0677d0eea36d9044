// --capture-dir: each distinct piece of code a finding made executable is written once, named by
// its SHA-256, for a responder to scan. The sensor runs as root and the bytes come from the
// watched process: files are created 0600, never through a symlink (O_NOFOLLOW, O_EXCL), in a
// directory that must be a real directory, and the total written is bounded. A file is written
// under a temporary name and renamed into place only once complete, so DIR/<sha256>.bin is
// always a whole copy; a failure removes the temporary file, is counted and said.
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import type { Finding } from '../signatures/signature';

/** Temporary files of this class (a run that was killed mid-write leaves one). */
const TEMP = /^\.[0-9a-f]{64}\.\d+\.tmp$/;

export interface CaptureDirOptions {
  /** One message when storing starts failing (and when it works again), and when the budget is
   * reached; never one per finding. */
  report?: (message: string) => void;
}

export class CaptureDir {
  /** Bytes in the directory (at start, plus what this run wrote). */
  private used = 0;
  /** Hashes known to be stored whole, so each is checked on disk once. */
  private stored = new Set<string>();
  private failing = false;
  written = 0;
  skippedFull = 0;
  /** Pieces of code that could not be stored (a full disk, an I/O error). */
  errors = 0;

  constructor(
    readonly dir: string,
    readonly maxBytes = 256 << 20,
    private readonly options: CaptureDirOptions = {},
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (!st.isDirectory()) throw new TypeError(`wxwatch: --capture-dir ${dir} is not a directory (a symlink is refused)`);
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      const file = lstatSync(full);
      if (!file.isFile()) continue;
      if (TEMP.test(name)) unlinkSync(full);
      else this.used += file.size;
    }
  }

  /** Stores the finding's code unless already stored; returns the file, or null. */
  store(finding: Finding): string | null {
    const code = finding.Event.wxwatch.code;
    const bytes = finding.Event.codeBytes;
    // (no byte read: no hash, nothing to store)
    if (!code || code.sha256 === null || !bytes.length) return null;
    const sha256 = code.sha256;
    const file = path.join(this.dir, `${sha256}.bin`);
    if (this.stored.has(sha256)) return file;
    // A file left by an earlier run counts only if it is a complete copy.
    const old = this.existing(file, sha256, bytes.length);
    if (old === 'complete') {
      this.stored.add(sha256);
      return file;
    }
    if (this.used - old + bytes.length > this.maxBytes) {
      if (!this.skippedFull++) this.options.report?.(`--capture-dir ${this.dir}: ${this.maxBytes} bytes stored; storing no more code`);
      return null;
    }
    const temp = path.join(this.dir, `.${code.sha256}.${process.pid}.tmp`);
    try {
      const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, file);
    } catch (err) {
      try {
        unlinkSync(temp);
      } catch {
        // not created, or already gone
      }
      this.errors++;
      if (!this.failing) {
        this.failing = true;
        const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        this.options.report?.(`--capture-dir ${this.dir}: could not store code (${why}); counting what is not stored until it works again`);
      }
      return null;
    }
    if (this.failing) {
      this.failing = false;
      this.options.report?.(`--capture-dir ${this.dir}: storing code again (${this.errors} pieces not stored in all)`);
    }
    this.used += bytes.length - old;
    this.written++;
    this.stored.add(sha256);
    return file;
  }

  /** 'complete' if file is a whole copy of the code, else the bytes it takes now (0 if none). */
  private existing(file: string, sha256: string, size: number): 'complete' | number {
    let st;
    try {
      st = lstatSync(file);
    } catch {
      return 0;
    }
    if (!st.isFile()) return 0; // a symlink or anything else is replaced by the rename, never followed
    if (st.size !== size) return st.size;
    try {
      const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      try {
        if (createHash('sha256').update(readFileSync(fd)).digest('hex') === sha256) return 'complete';
      } finally {
        closeSync(fd);
      }
    } catch {
      // unreadable: written again
    }
    return st.size;
  }
}
