// Lines to stdout in batches, with a bound, without ever taking the sensor down, and with every
// line accounted for: written (whole) or dropped (counted), never half of one.
//
// - files and devices: each batch is one synchronous write; the file keeps up or the write
//   fails (ENOSPC, EIO): nothing waits in memory, so no bound applies.
// - pipes and FIFOs: a description of our own, non-blocking, on a pipe grown to 1 MiB; what the
//   pipe takes is written, the rest waits in a queue of at most maxBytes and is retried while
//   the reader is slow. A line the pipe cut is finished before anything else; on stop, lines go
//   one per write (a write of at most PIPE_BUF bytes is never cut), so the reader is left with
//   whole lines only.
// - anything else (a socket, a terminal): Node's stream, one batch in flight at a time.
// Past the bound, or when a write fails, lines are dropped and counted; EPIPE means the reader
// is gone.
import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';
import { ByteSink } from '../byte-writer';

export interface OutputHooks {
  /** The reader closed the pipe (EPIPE): nothing written from now on will arrive. */
  closed(): void;
  /** One message per burst of drops: when it starts, and when output has recovered. */
  report(message: string): void;
}

/** The pipe control of the addon (lib/native.ts). */
export interface PipeQueries {
  growPipe(fd: number, bytes: number): number;
}

export type Target =
  /** Writes complete before write() returns (files, devices); returns bytes written or throws. */
  | { kind: 'sync'; write(buf: Buffer, start: number, end: number): number; close?(): void }
  /** A non-blocking pipe: write() takes what fits (0: nothing now). */
  | { kind: 'pipe'; write(buf: Buffer, start: number, end: number): number; close?(): void }
  /** A stream: done() once the chunk is the kernel's; queued() bytes not yet written. */
  | { kind: 'stream'; write(buf: Buffer, done: (err: NodeJS.ErrnoException | null | undefined) => void): void; queued(): number };

/** Writes bytes [start, end) in as many writes as it takes; an error carries the bytes that
 * were written before it (bytesWritten). */
function writeAll(fd: number, buf: Buffer, start: number, end: number): number {
  let at = start;
  try {
    while (at < end) at += writeSync(fd, buf, at, end - at);
  } catch (err) {
    throw Object.assign(err as Error, { bytesWritten: at - start });
  }
  return at - start;
}

function nonBlockingWrite(fd: number, buf: Buffer, start: number, end: number): number {
  try {
    return writeSync(fd, buf, start, end - start);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
    throw err;
  }
}

// Pipes are grown to this where the kernel allows (the default max, no privilege needed): a
// fast reader then takes a batch in a few writes.
const PIPE_BYTES = 1 << 20;

/** stdout as a Target. */
export function stdoutTarget(pipes: PipeQueries): Target {
  let st;
  try {
    st = fstatSync(1);
  } catch {
    st = undefined; // no stdout: the stream reports it on the first write
  }
  if (st && (st.isFile() || (st.isCharacterDevice() && !process.stdout.isTTY))) {
    return { kind: 'sync', write: (buf, start, end) => writeAll(1, buf, start, end) };
  }
  if (st?.isFIFO()) {
    // Our own open file description of the same pipe: non-blocking without changing the one
    // the shell and the reader share.
    let fd = -1;
    try {
      fd = openSync('/proc/self/fd/1', constants.O_WRONLY | constants.O_NONBLOCK);
    } catch {
      // no /proc: Node's stream below
    }
    if (fd >= 0 && pipes.growPipe(fd, PIPE_BYTES) > 0) {
      return {
        kind: 'pipe',
        write: (buf, start, end) => nonBlockingWrite(fd, buf, start, end),
        close: () => closeSync(fd),
      };
    }
    if (fd >= 0) closeSync(fd);
  }
  const stream = process.stdout;
  // Errors arrive through the write callbacks; this keeps them from being uncaught exceptions.
  stream.on('error', () => {});
  return { kind: 'stream', write: (buf, done) => stream.write(buf, done), queued: () => stream.writableLength };
}

const NEWLINE = 0x0a;
const RECOVERED_AFTER_MS = 1000;
// While a pipe is full: how soon to look again, doubling to the longest wait.
const RETRY_MIN_MS = 1;
const RETRY_MAX_MS = 16;
const SCRATCH_MAX = 8 << 20;
// How often finish() looks whether everything is out.
const STOP_POLL_MS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function newlines(buf: Buffer, start: number, end: number): number {
  let n = 0;
  for (let i = buf.indexOf(NEWLINE, start); i >= 0 && i < end; i = buf.indexOf(NEWLINE, i + 1)) n++;
  return n;
}

/** One batch's lines, as bytes, and how far they have been written. */
interface Chunk {
  buf: Buffer;
  lines: number;
  /** Bytes written so far, and whole lines among them. */
  at: number;
  linesDone: number;
}

export class LineOutput {
  written = 0;
  dropped = 0;
  /** The batch being built: its lines' bytes, and how many lines. */
  private batch = new ByteSink();
  private batchLines = 0;
  private queue: Chunk[] = [];
  private queuedBytes = 0;
  private inFlight: Chunk | undefined; // stream target: the chunk it holds
  private retry: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private scheduled: NodeJS.Immediate | undefined;
  private isClosed = false;
  private stopping = false; // finish() has begun: pipes get one line per write
  private lastLineOnly = false; // finish()'s deadline has passed: only a cut line may go
  private finished = false;
  private torn = false; // a sync write failed mid-line: the next line starts on its own
  private burst = 0;
  private lastDropAt = 0;

  constructor(
    private readonly target: Target,
    private readonly maxBytes: number,
    private readonly hooks: OutputHooks,
  ) {}

  /** Queues one line (no newline in it); it goes out with the batch at flush(). */
  line(text: string): void {
    this.lineWith((sink) => {
      const b = sink.grow(sink.at, 3 * text.length);
      sink.at += b.write(text, sink.at);
    });
  }

  /** Queues the line that write() puts into the sink at sink.at (advancing it). */
  lineWith(write: (sink: ByteSink) => void): void {
    if (this.isClosed) {
      this.dropped++;
      return;
    }
    const sink = this.batch;
    write(sink);
    sink.grow(sink.at, 1)[sink.at++] = NEWLINE;
    this.batchLines++;
    // A caller that never flushes still gets its lines out, once per event-loop turn.
    this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Queues the line make() gives, unless it could not be written anyway: then it is counted
   * as dropped without being made (a stalled reader costs no formatting). */
  lineFrom(make: () => string): void {
    if (this.full()) this.drop(1, this.fullMessage());
    else this.line(make());
  }

  /** lineWith(), with lineFrom()'s care for a full output. */
  bytesFrom(write: (sink: ByteSink) => void): void {
    if (this.full()) this.drop(1, this.fullMessage());
    else this.lineWith(write);
  }

  private full(): boolean {
    return !this.isClosed && this.target.kind !== 'sync' && this.queuedBytes >= this.maxBytes;
  }

  private fullMessage(): string {
    return `output is not keeping up (${this.maxBytes} bytes queued)`;
  }

  /** Ends a batch: its lines become one chunk, written at once where the target takes it. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const lines = this.batchLines;
    if (!lines) return;
    const bytes = this.batch.buf.subarray(0, this.batch.at);
    this.batch.at = 0;
    this.batchLines = 0;
    if (this.isClosed) {
      this.dropped += lines;
      return;
    }
    // A synchronous target is done with the bytes when write() returns; others keep a copy.
    const buf = this.target.kind === 'sync' ? bytes : Buffer.from(bytes);
    // A batch far larger than usual does not keep its buffer's size.
    if (this.batch.buf.length > SCRATCH_MAX) this.batch = new ByteSink();
    // Only what waits counts against the bound: a synchronous target never has any.
    if (this.target.kind !== 'sync' && this.queuedBytes + buf.length > this.maxBytes) {
      this.drop(lines, this.fullMessage());
      return;
    }
    this.queue.push({ buf, lines, at: 0, linesDone: 0 });
    this.queuedBytes += buf.length;
    this.pump();
  }

  /** Writes what is pending and waits up to timeoutMs for it; what did not make it is dropped.
   * A line a pipe has only part of gets as long again to be finished. Resolves with the number
   * of lines dropped this way. */
  async finish(timeoutMs: number): Promise<number> {
    this.stopping = true;
    this.flush();
    this.pump();
    const deadline = Date.now() + timeoutMs;
    while ((this.queue.length || this.inFlight) && Date.now() < deadline) await sleep(STOP_POLL_MS);
    this.lastLineOnly = true;
    const grace = Date.now() + timeoutMs;
    while (this.lineCut() && Date.now() < grace) {
      this.pump();
      await sleep(STOP_POLL_MS);
    }
    clearTimeout(this.retry);
    this.finished = true;
    let lost = this.batchLines;
    this.batchLines = 0;
    this.batch.at = 0;
    if (this.inFlight) {
      // What the stream handed to the kernel is out; the rest of the chunk is not.
      const c = this.inFlight;
      const out = c.buf.length - Math.min(c.buf.length, this.target.kind === 'stream' ? this.target.queued() : 0);
      const done = newlines(c.buf, 0, out);
      this.written += done;
      lost += c.lines - done;
      this.inFlight = undefined;
    }
    for (const c of this.queue) lost += c.lines - c.linesDone;
    this.queue = [];
    this.queuedBytes = 0;
    this.dropped += lost;
    this.isClosed = true;
    if (this.target.kind !== 'stream') this.target.close?.();
    return lost;
  }

  private pump(): void {
    if (this.finished) return;
    switch (this.target.kind) {
      case 'sync':
        this.pumpSync(this.target);
        break;
      case 'pipe':
        this.pumpPipe(this.target);
        break;
      case 'stream':
        this.pumpStream(this.target);
        break;
    }
  }

  private pumpSync(target: Extract<Target, { kind: 'sync' }>): void {
    while (this.queue.length) {
      const c = this.queue.shift()!;
      this.queuedBytes -= c.buf.length;
      try {
        if (this.torn) target.write(Buffer.from('\n'), 0, 1);
        this.torn = false;
        target.write(c.buf, 0, c.buf.length);
        this.wrote(c.lines);
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { bytesWritten?: number };
        const wrote = e.bytesWritten ?? 0;
        const whole = newlines(c.buf, 0, wrote);
        this.written += whole;
        if (wrote > 0 && c.buf[wrote - 1] !== NEWLINE) this.torn = true;
        this.failed(c.lines - whole, e);
        if (this.isClosed) return;
      }
    }
  }

  private pumpPipe(target: Extract<Target, { kind: 'pipe' }>): void {
    while (this.queue.length) {
      const c = this.queue[0];
      const cut = c.at > 0 && c.buf[c.at - 1] !== NEWLINE;
      // Stopping past the deadline: only the line already cut may still go.
      if (!cut && this.lastLineOnly) return;
      // A cut line first; while stopping, one line per write; else all the pipe takes.
      const end = cut || this.stopping ? c.buf.indexOf(NEWLINE, c.at) + 1 : c.buf.length;
      let took: number;
      try {
        took = target.write(c.buf, c.at, end);
      } catch (err) {
        this.queue.shift();
        this.queuedBytes -= c.buf.length;
        this.failed(c.lines - c.linesDone, err as NodeJS.ErrnoException);
        if (this.isClosed) return;
        continue;
      }
      const done = newlines(c.buf, c.at, c.at + took);
      const whole = took === end - c.at;
      c.at += took;
      c.linesDone += done;
      this.wrote(done);
      if (took) this.retryMs = RETRY_MIN_MS; // the reader is reading: look again soon
      if (c.at === c.buf.length) {
        this.queue.shift();
        this.queuedBytes -= c.buf.length;
      }
      if (!whole) return this.waitForRoom();
    }
  }

  /** A line is half written (pipe targets): the reader has part of it. */
  private lineCut(): boolean {
    const c = this.queue[0];
    return c !== undefined && c.at > 0 && c.buf[c.at - 1] !== NEWLINE;
  }

  private pumpStream(target: Extract<Target, { kind: 'stream' }>): void {
    if (this.inFlight || !this.queue.length) return;
    const c = this.queue.shift()!;
    this.queuedBytes -= c.buf.length;
    this.inFlight = c;
    target.write(c.buf, (err) => {
      if (this.finished || this.inFlight !== c) return; // finish() has counted it
      this.inFlight = undefined;
      if (!err) this.wrote(c.lines);
      else this.failed(c.lines, err);
      this.pump();
    });
  }

  private waitForRoom(): void {
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.pump();
    }, this.retryMs);
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  private wrote(lines: number): void {
    if (!lines) return;
    this.written += lines;
    if (this.burst && Date.now() - this.lastDropAt >= RECOVERED_AFTER_MS) {
      this.hooks.report(`output recovered; ${this.burst} lines dropped (${this.dropped} in all)`);
      this.burst = 0;
    }
  }

  private failed(lines: number, err: NodeJS.ErrnoException): void {
    if (err.code === 'EPIPE') {
      // The reader is gone: this and everything after it is dropped, quietly.
      let rest = lines + this.batchLines;
      for (const c of this.queue) rest += c.lines - c.linesDone;
      this.queue = [];
      this.queuedBytes = 0;
      this.batchLines = 0;
      this.batch.at = 0;
      this.dropped += rest;
      this.isClosed = true;
      this.hooks.closed();
      return;
    }
    this.drop(lines, `write failed: ${err.code ?? err.message}`);
  }

  private drop(lines: number, why: string): void {
    if (!lines) return;
    this.dropped += lines;
    this.lastDropAt = Date.now();
    if (!this.burst) this.hooks.report(`${why}; dropping lines until it recovers`);
    this.burst += lines;
  }
}
