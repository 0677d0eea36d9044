// Point 3 of issue 10: stdout faults cost lines, counted, never the sensor.
import assert from 'node:assert/strict';
import { LineOutput } from '../../lib/output/line-output';

type Done = (err: NodeJS.ErrnoException | null) => void;

/** A stdout stand-in: each write waits for the test to settle it. */
function target() {
  const writes: Array<{ chunk: string; done: Done }> = [];
  let queued = 0;
  return {
    writes,
    setQueued: (n: number) => (queued = n),
    target: { queuedBytes: () => queued, write: (chunk: string, done: Done) => writes.push({ chunk, done }) },
  };
}

const tick = () => new Promise((r) => setImmediate(r));
const errno = (code: string) => Object.assign(new Error(code), { code });

describe('line output', () => {
  it('drops and counts lines past its bound, reporting once per burst', async () => {
    const t = target();
    const reports: string[] = [];
    const out = new LineOutput(t.target, 1000, { closed: () => {}, report: (m) => reports.push(m) });
    t.setQueued(995); // the reader is stalled: the stream holds almost the bound
    for (let i = 0; i < 100; i++) out.line(`finding ${i}`);
    assert.equal(out.dropped, 100);
    assert.equal(reports.length, 1);
    assert.match(reports[0], /not keeping up/);
  });

  it('counts a failed write (ENOSPC) as dropped, keeps writing, reports recovery', async () => {
    const t = target();
    const reports: string[] = [];
    const out = new LineOutput(t.target, 1 << 20, { closed: () => assert.fail('not closed'), report: (m) => reports.push(m) });
    out.line('a');
    out.line('b');
    await tick();
    t.writes[0].done(errno('ENOSPC'));
    for (let i = 0; i < 10; i++) {
      out.line(`c${i}`);
      await tick();
      t.writes[t.writes.length - 1].done(errno('ENOSPC'));
    }
    assert.equal(out.dropped, 12);
    assert.equal(reports.length, 1, reports.join('\n'));
    assert.match(reports[0], /ENOSPC/);
    (out as unknown as { lastDropAt: number }).lastDropAt = 0; // as if a second had passed
    out.line('d');
    await tick();
    t.writes[t.writes.length - 1].done(null);
    assert.equal(out.written, 1);
    assert.match(reports[1], /recovered; 12 lines dropped/);
  });

  it('calls closed() once on EPIPE and drops the rest quietly', async () => {
    const t = target();
    let closed = 0;
    const out = new LineOutput(t.target, 1 << 20, { closed: () => closed++, report: () => {} });
    out.line('a');
    await tick();
    t.writes[0].done(errno('EPIPE'));
    out.line('b');
    await tick();
    assert.equal(closed, 1);
    assert.equal(t.writes.length, 1);
    assert.equal(out.dropped, 2);
  });

  it('gives a stalled reader a bounded time on finish, counting what it did not take', async () => {
    const t = target();
    const out = new LineOutput(t.target, 1 << 20, { closed: () => {}, report: () => {} });
    for (let i = 0; i < 5; i++) out.line(`x${i}`);
    const began = Date.now();
    assert.equal(await out.finish(50), 5);
    assert.ok(Date.now() - began < 1000);
    assert.equal(out.dropped, 5);
  });
});
