// Lines to stdout with a bound and without ever taking the sensor down. Pipes and terminals go
// through the process.stdout stream (asynchronous, so a stalled reader never blocks the event
// loop) with at most maxBytes queued; files and devices are written directly (a failed write
// throws nothing and leaves no stuck stream). Past the bound, or when a write fails, lines are
// dropped and counted; EPIPE means the reader is gone.
import { fstatSync, writeSync } from 'node:fs';

export interface OutputHooks {
  /** The reader closed the pipe (EPIPE): nothing written from now on will arrive. */
  closed(): void;
  /** One message per burst of drops: when it starts, and when output has recovered. */
  report(message: string): void;
}

interface Target {
  queuedBytes(): number;
  write(chunk: string, done: (err: NodeJS.ErrnoException | null | undefined) => void): void;
}

function streamTarget(stream: NodeJS.WriteStream): Target {
  // Errors arrive through the write callbacks; this keeps them from being uncaught exceptions.
  stream.on('error', () => {});
  return { queuedBytes: () => stream.writableLength, write: (chunk, done) => stream.write(chunk, done) };
}

function fdTarget(fd: number): Target {
  return {
    queuedBytes: () => 0,
    write(chunk, done) {
      const buf = Buffer.from(chunk);
      try {
        for (let at = 0; at < buf.length; ) at += writeSync(fd, buf, at);
        done(null);
      } catch (err) {
        done(err as NodeJS.ErrnoException);
      }
    },
  };
}

/** stdout as a Target: the stream for pipes, sockets and terminals, direct writes otherwise. */
export function stdoutTarget(): Target {
  let direct = false;
  try {
    const st = fstatSync(1);
    direct = (st.isFile() || st.isCharacterDevice()) && !process.stdout.isTTY;
  } catch {
    // no stdout: the stream reports it on the first write
  }
  return direct ? fdTarget(1) : streamTarget(process.stdout);
}

const RECOVERED_AFTER_MS = 1000;

export class LineOutput {
  written = 0;
  dropped = 0;
  private pending: string[] = [];
  private pendingBytes = 0;
  private inFlight = 0;
  private scheduled = false;
  private isClosed = false;
  private burst = 0;
  private lastDropAt = 0;
  private idle: Array<() => void> = [];

  constructor(
    private readonly target: Target,
    private readonly maxBytes: number,
    private readonly hooks: OutputHooks,
  ) {}

  line(text: string): void {
    if (this.isClosed) {
      this.dropped++;
      return;
    }
    const bytes = text.length + 1;
    if (this.target.queuedBytes() + this.pendingBytes + bytes > this.maxBytes) {
      this.drop(1, `output is not keeping up (${this.maxBytes} bytes queued)`);
      return;
    }
    this.pending.push(text);
    this.pendingBytes += bytes;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is pending and waits up to timeoutMs for it; what did not make it is dropped.
   * Resolves with the number of lines dropped this way. */
  async finish(timeoutMs: number): Promise<number> {
    this.flush();
    if (this.inFlight) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.idle.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const lost = this.inFlight;
    this.dropped += lost;
    this.inFlight = 0;
    this.isClosed = true;
    return lost;
  }

  private flush(): void {
    this.scheduled = false;
    if (!this.pending.length || this.isClosed) return;
    const lines = this.pending.length;
    const chunk = `${this.pending.join('\n')}\n`;
    this.pending = [];
    this.pendingBytes = 0;
    this.inFlight += lines;
    this.target.write(chunk, (err) => this.written_(lines, err));
  }

  private written_(lines: number, err: NodeJS.ErrnoException | null | undefined): void {
    if (this.isClosed) return; // finish() has counted these already
    this.inFlight -= lines;
    if (!err) {
      this.written += lines;
      if (this.burst && Date.now() - this.lastDropAt >= RECOVERED_AFTER_MS) {
        this.hooks.report(`output recovered; ${this.burst} lines dropped (${this.dropped} in all)`);
        this.burst = 0;
      }
    } else if (err.code === 'EPIPE') {
      this.dropped += lines + this.pending.length;
      this.pending = [];
      this.isClosed = true;
      this.hooks.closed();
    } else {
      this.drop(lines, `write failed: ${err.code ?? err.message}`);
    }
    if (!this.inFlight) for (const done of this.idle.splice(0)) done();
  }

  private drop(lines: number, why: string): void {
    this.dropped += lines;
    this.lastDropAt = Date.now();
    if (!this.burst) this.hooks.report(`${why}; dropping lines until it recovers`);
    this.burst += lines;
  }
}
