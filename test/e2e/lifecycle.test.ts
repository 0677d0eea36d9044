// Issue 10, points 1 and 2 against the real kernel: every resource freed on close, worker
// teardown and process.exit, with no abort on the way; memory bounded behind a consumer that
// does not read.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { loadedProgramIds, requireRoot } from '../helpers/sensor';
import { stormProgram } from '../helpers/storm';

const CHILDREN = path.join(__dirname, '..', 'helpers', 'children');

function child(script: string, args: string[], nodeFlags: string[] = [], timeout = 60000) {
  const res = spawnSync(process.execPath, [...nodeFlags, path.join(CHILDREN, script), ...args], { encoding: 'utf8', timeout });
  const last = res.stdout.trim().split('\n').pop() ?? '';
  return { status: res.status, signal: res.signal, stderr: res.stderr, out: last ? JSON.parse(last) : null };
}

describe('lifecycle (root, real kernel)', function () {
  before(requireRoot);
  this.timeout(120000);

  it('lets closed sensors be collected (10 started and closed, then GC)', () => {
    const res = child('collect-closed.js', ['10'], ['--expose-gc'], 100000);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.out.finalized, 10, `finalised ${res.out.finalized} of 10`);
  });

  it('survives worker.terminate() mid-storm with a slow listener, 3 rounds', () => {
    const res = child('worker-storm.js', [stormProgram(), '3'], [], 100000);
    assert.equal(res.signal, null, `killed by ${res.signal}: ${res.stderr.slice(-2000)}`);
    assert.doesNotMatch(res.stderr, /FATAL ERROR|Abort|Segmentation/);
    assert.equal(res.status, 0, res.stderr.slice(-2000));
    assert.equal(res.out.rounds, 3);
  });

  it('exits cleanly on process.exit() mid-storm, and the kernel has nothing left of it', async () => {
    const res = child('exit-mid-storm.js', [stormProgram()]);
    assert.equal(res.signal, null, res.stderr.slice(-2000));
    assert.equal(res.status, 0, res.stderr.slice(-2000));
    // The kernel frees detached programs after an RCU grace period: give it a moment.
    let left = res.out.programIds as number[];
    for (const deadline = Date.now() + 3000; left.length && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
      const after = loadedProgramIds();
      left = left.filter((id) => after.has(id));
    }
    assert.deepEqual(left, []);
  });

  it('bounds an async iterator whose consumer stalls during a storm: drops are counted, RSS stays flat', () => {
    const res = child('idle-iterator.js', [stormProgram(), '3', '1000']);
    assert.equal(res.status, 0, res.stderr);
    const { rssStartMB, rssMaxMB, findings, dropped, droppedEvents } = res.out;
    console.log(`      stalled iterator: ${findings} findings, ${dropped} dropped, RSS ${rssStartMB} → max ${rssMaxMB} MB`);
    assert.ok(findings > 10000, `a storm: ${findings} findings`);
    assert.equal(dropped, findings - 1 - 1000, 'all but the one taken and the 1000 queued are dropped and counted');
    assert.equal(droppedEvents, dropped, "and reported on 'dropped'");
    assert.ok(rssMaxMB - rssStartMB < 100, `RSS grew ${rssMaxMB - rssStartMB} MB`);
  });
});
