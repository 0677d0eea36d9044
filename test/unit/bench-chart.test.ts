// npm run bench:report: every figure of every results file, by its run's kernel and hook mode.
import assert from 'node:assert/strict';
import { pointsOf, renderReport } from '../../bench/chart';

const run = {
  drain: { baselineC: 100, batch: 80, raw: { batch: { recordsPerSec: 80, started: { mode: 'tracepoint', ringMapId: 7 } } } },
  cli: { seconds: 5, runs: [{ target: 'file', rate: 20000, cpuUsPerFinding: 8.5 }] },
  rssMb: { peak: 120, samples: [1, 2, 3] },
  machine: { date: '2026-12-02T10:00:00.000Z', kernel: '6.18.44', cpus: 2 },
};
const hostCost = { host: { kernel: '6.18.44', modes: { tracepoint: { getppid: 1.09 } } }, 'guest-6.1': { kernel: '6.1.0-57', modes: { 'lsm-hook': { mmap: 0.97 } } } };

describe('bench report', () => {
  it('takes every figure with its date, kernel and mode, and leaves out identifiers and per-second series', () => {
    const points = new Map(pointsOf('2026-12-02.json', run));
    assert.deepEqual([...points.keys()].sort(), ['cli.runs.file@20000.cpuUsPerFinding', 'cli.seconds', 'drain.baselineC', 'drain.batch', 'drain.raw.batch.recordsPerSec', 'rssMb.peak']);
    assert.deepEqual(points.get('cli.runs.file@20000.cpuUsPerFinding'), { file: '2026-12-02.json', date: '2026-12-02T10:00:00.000Z', kernel: '6.18.44', mode: 'tracepoint', value: 8.5 });
  });

  it('splits a host-cost file by kernel and mode', () => {
    const points = pointsOf('host-cost-2026-11-30.json', hostCost);
    assert.deepEqual(
      points.map(([f, p]) => `${f} ${p.kernel} ${p.mode} ${p.value} ${p.date}`),
      ['hostCost.host.getppid 6.18.44 tracepoint 1.09 2026-11-30', 'hostCost.guest-6.1.mmap 6.1.0-57 lsm-hook 0.97 2026-11-30'],
    );
  });

  it('draws one self-contained chart per figure, a point per run', () => {
    const later = { ...run, drain: { ...run.drain, batch: 90 }, machine: { ...run.machine, date: '2026-12-03T10:00:00.000Z' } };
    const html = renderReport([['2026-12-02.json', run], ['2026-12-03.json', later]]);
    assert.equal(html.match(/<figure>/g)?.length, 6);
    assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'nothing to run, nothing fetched');
    const batch = html.split('<figure>').find((f) => f.includes('<figcaption>drain.batch<'))!;
    assert.equal(batch.match(/<circle/g)?.length, 2);
    assert.match(batch, /<title>2026-12-03T10:00:00.000Z 6.18.44 tracepoint: 90 \(2026-12-03.json\)<\/title>/);
  });
});
