// stdout faults cost lines, counted, never the sensor, and never half a line: against stand-in
// targets, a real pipe (a FIFO, read slowly) and a real file.
import assert from 'node:assert/strict';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LineOutput, Target } from '../../lib/output/line-output';
import { addon } from '../../lib/native';

type Done = (err: NodeJS.ErrnoException | null) => void;

/** A stream stand-in: each write waits for the test to settle it. */
function streamTarget() {
  const writes: Array<{ chunk: Buffer; done: Done }> = [];
  let queued = 0;
  const target: Target = {
    kind: 'stream',
    queued: () => queued,
    write: (chunk, done) => void writes.push({ chunk, done }),
  };
  return { writes, setQueued: (n: number) => (queued = n), target };
}

const tick = () => new Promise((r) => setImmediate(r));
const errno = (code: string) => Object.assign(new Error(code), { code });
const hooks = (reports: string[] = []) => ({ closed: () => {}, report: (m: string) => reports.push(m) });

function batchOf(out: LineOutput, n: number, text = (i: number) => `finding ${i}`): void {
  for (let i = 0; i < n; i++) out.line(text(i));
  out.flush();
}

describe('line output', () => {
  it('writes one chunk per batch, and drops and counts batches past its bound while one is in flight', () => {
    const t = streamTarget();
    const reports: string[] = [];
    const out = new LineOutput(t.target, 1000, hooks(reports));
    batchOf(out, 10);
    assert.equal(t.writes.length, 1, 'one write for the batch');
    assert.equal(t.writes[0].chunk.toString().split('\n').length, 11);
    for (let i = 0; i < 10; i++) batchOf(out, 10, () => 'x'.repeat(40)); // the reader is stalled
    assert.ok(out.dropped >= 50, `${out.dropped} dropped`);
    assert.equal(reports.length, 1);
    assert.match(reports[0], /not keeping up/);
  });

  it('counts a failed write (ENOSPC) as dropped, keeps writing, reports recovery', () => {
    const reports: string[] = [];
    let fail = true;
    const target: Target = {
      kind: 'sync',
      write: (_buf, start, end) => {
        if (fail) throw errno('ENOSPC');
        return end - start;
      },
    };
    const out = new LineOutput(target, 1 << 20, hooks(reports));
    for (let i = 0; i < 6; i++) batchOf(out, 2);
    assert.equal(out.dropped, 12);
    assert.equal(reports.length, 1, reports.join('\n'));
    assert.match(reports[0], /ENOSPC/);
    (out as unknown as { lastDropAt: number }).lastDropAt = 0; // as if a second had passed
    fail = false;
    batchOf(out, 1);
    assert.equal(out.written, 1);
    assert.match(reports[1], /recovered; 12 lines dropped/);
  });

  it('counts the whole lines of a write cut by an error as written, and starts the next line afresh', () => {
    const writes: string[] = [];
    let calls = 0;
    const target: Target = {
      kind: 'sync',
      write: (buf, start, end) => {
        if (++calls === 1) throw Object.assign(errno('EIO'), { bytesWritten: 10 }); // "line 0\nlin"
        writes.push(buf.subarray(start, end).toString());
        return end - start;
      },
    };
    const out = new LineOutput(target, 1 << 20, hooks());
    batchOf(out, 3, (i) => `line ${i}`);
    assert.equal(out.written, 1);
    assert.equal(out.dropped, 2);
    batchOf(out, 1, () => 'next');
    assert.deepEqual(writes, ['\n', 'next\n']);
  });

  it('calls closed() once on EPIPE and drops the rest quietly', async () => {
    const t = streamTarget();
    let closed = 0;
    const out = new LineOutput(t.target, 1 << 20, { closed: () => closed++, report: () => {} });
    batchOf(out, 1);
    t.writes[0].done(errno('EPIPE'));
    batchOf(out, 1);
    await tick();
    assert.equal(closed, 1);
    assert.equal(t.writes.length, 1);
    assert.equal(out.dropped, 2);
  });

  it('gives a stalled stream a bounded time on finish, counting exactly the lines it did not take', async () => {
    const t = streamTarget();
    const out = new LineOutput(t.target, 1 << 20, hooks());
    batchOf(out, 5, (i) => `x${i}`); // "x0\nx1\nx2\nx3\nx4\n": 15 bytes
    t.setQueued(8); // the kernel took "x0\nx1\nx" and holds the rest
    const began = Date.now();
    assert.equal(await out.finish(50), 3);
    assert.ok(Date.now() - began < 1000);
    assert.equal(out.written, 2);
    assert.equal(out.dropped, 3);
  });

  it('never drops a line for a file that keeps up, however much one batch holds', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-lines-'));
    try {
      const file = path.join(dir, 'out');
      const fd = openSync(file, 'w');
      const target: Target = { kind: 'sync', write: (buf, start, end) => writeSync(fd, buf, start, end - start) };
      const out = new LineOutput(target, 1024, hooks()); // a bound far below one batch
      batchOf(out, 5000, (i) => `{"n":${i},"pad":"${'p'.repeat(100)}"}`);
      closeSync(fd);
      assert.equal(out.dropped, 0);
      assert.equal(out.written, 5000);
      assert.equal(readFileSync(file, 'utf8').split('\n').length, 5001);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes only whole lines into a pipe read slowly, and on finish counts exactly what the reader did not get', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-pipe-'));
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      assert.ok(addon.growPipe(writer, 1 << 16) >= 1 << 16);
      const target: Target = {
        kind: 'pipe',
        write: (buf, start, end) => {
          try {
            return writeSync(writer, buf, start, end - start);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
            throw err;
          }
        },
      };
      const out = new LineOutput(target, 4 << 20, hooks());
      // Lines of uneven length, so that the pipe fills in the middle of one.
      const line = (i: number) => `{"n":${i},"pad":"${'q'.repeat(500 + (i % 333))}"}`;
      let total = 0;
      let got = '';
      const buf = Buffer.alloc(3000);
      for (let round = 0; round < 20; round++) {
        batchOf(out, 200, (i) => line(total + i));
        total += 200;
        // the reader takes a little, now and then
        const n = (() => {
          try {
            return readSync(reader, buf, 0, buf.length, null);
          } catch {
            return 0;
          }
        })();
        got += buf.subarray(0, n).toString();
        await new Promise((r) => setTimeout(r, 2));
      }
      // The reader goes on slowly while the output stops: the cut line is finished.
      const reading = setInterval(() => {
        try {
          const n = readSync(reader, buf, 0, 1000, null);
          got += buf.subarray(0, n).toString();
        } catch {
          // EAGAIN
        }
      }, 5);
      const lost = await out.finish(100);
      clearInterval(reading);
      for (;;) {
        let n = 0;
        try {
          n = readSync(reader, buf, 0, buf.length, null);
        } catch {
          n = 0;
        }
        if (!n) break;
        got += buf.subarray(0, n).toString();
      }
      assert.ok(got.endsWith('\n'), 'the stream ends with a whole line');
      const lines = got.split('\n').slice(0, -1);
      lines.forEach((l, i) => assert.equal(l, line(i), `line ${i} whole and in order`));
      assert.ok(lost > 0, 'the reader was too slow for some');
      assert.equal(out.written, lines.length);
      assert.equal(lines.length + out.dropped, total, 'every line written or counted');
    } finally {
      closeSync(reader);
      closeSync(writer);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
