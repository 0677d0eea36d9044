// --output FILE: lines appended to a file that logrotate may move away (reopen() on SIGHUP).
// The file is created 0600, never reached through a symlink, and must be a regular file: a FIFO
// or a device is refused without waiting on it. A failed write drops its lines, counts them and
// says so; it never stops the sensor.
import { closeSync, constants, fstatSync, openSync, Stats, writeSync } from 'node:fs';

// libuv adds O_CLOEXEC to every open. O_NONBLOCK: opening a FIFO for writing would wait for a
// reader (for ever, blocking the event loop); with it the open returns at once and the file is
// checked. It changes nothing for a regular file.
const FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return st.isDirectory() ? 'a directory' : 'not a file';
}

export interface FileSinkOptions {
  /** Called when lines are dropped; a message once per failure streak, not per line. */
  onDrop?: (lines: number, error: NodeJS.ErrnoException, firstOfStreak: boolean) => void;
}

export class FileSink {
  /** Lines that could not be written. */
  dropped = 0;
  lastError: NodeJS.ErrnoException | undefined;
  private fd: number;
  private pending: string[] = [];
  private scheduled = false;
  private failing = false;
  private torn = false;

  /** Opens the file; throws (with the path) if it cannot, e.g. ELOOP for a symlink. */
  constructor(
    readonly path: string,
    private readonly options: FileSinkOptions = {},
  ) {
    this.fd = FileSink.open(path);
  }

  private static open(path: string): number {
    let fd: number;
    try {
      fd = openSync(path, FLAGS, 0o600);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why =
        e.code === 'ELOOP'
          ? 'it is a symlink, which --output does not follow'
          : e.code === 'ENXIO' // a FIFO or socket with no reader
            ? 'not a regular file (a FIFO or a socket)'
            : e.code === 'EISDIR'
              ? 'not a regular file (a directory)'
              : e.message;
      throw Object.assign(new Error(`cannot open ${path} for output: ${why}`), { code: e.code });
    }
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      throw Object.assign(new Error(`cannot open ${path} for output: not a regular file (${kindOf(st)})`), { code: 'EINVAL' });
    }
    return fd;
  }

  /** Queues one line; lines of one event-loop turn go out in one write. */
  write(line: string): void {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is queued now. */
  flush(): void {
    this.scheduled = false;
    if (!this.pending.length) return;
    const lines = this.pending;
    this.pending = [];
    // After a torn write (a partial write, then an error) the next line starts on its own.
    const data = Buffer.from(`${this.torn ? '\n' : ''}${lines.join('\n')}\n`);
    let off = 0;
    try {
      while (off < data.length) off += writeSync(this.fd, data, off);
      this.failing = false;
      this.torn = false;
    } catch (err) {
      if (off > 0) this.torn = true;
      this.drop(lines.length, err as NodeJS.ErrnoException);
    }
  }

  /**
   * Opens the path again (logrotate moved the file away) and switches to it. If that fails
   * the old file stays in use, and the error is returned.
   */
  reopen(): Error | undefined {
    this.flush();
    let fd: number;
    try {
      fd = FileSink.open(this.path);
    } catch (err) {
      return err as Error;
    }
    closeSync(this.fd);
    this.fd = fd;
    return undefined;
  }

  close(): void {
    this.flush();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private drop(lines: number, err: NodeJS.ErrnoException): void {
    this.dropped += lines;
    this.lastError = err;
    const first = !this.failing;
    this.failing = true;
    this.options.onDrop?.(lines, err, first);
  }
}
