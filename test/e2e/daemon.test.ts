// The CLI as a daemon runs it: Prometheus metrics over HTTP and findings appended to a file.
import assert from 'node:assert/strict';
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, runFixture } from '../helpers/fixtures';
import { requireRoot } from '../helpers/sensor';

const CLI = path.join(REPO, 'dist', 'lib', 'cli.js');

interface Running {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
}

async function until(what: string, check: () => boolean, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function startCli(args: string[], ready: RegExp): Promise<Running> {
  const child = spawn(process.execPath, [CLI, ...args]);
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  child.stdout.resume();
  await until(`CLI start: ${err}`, () => ready.test(err) || child.exitCode !== null);
  assert.equal(child.exitCode, null, err);
  return { child, stderr: () => err };
}

async function stop(run: Running): Promise<void> {
  run.child.kill('SIGTERM');
  const [code] = await once(run.child, 'exit');
  assert.equal(code, 0, run.stderr());
}

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line, `no ${series} in\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe('wxwatch CLI as a daemon', function () {
  this.timeout(60000);
  before(requireRoot);

  it('--metrics serves Prometheus text whose findings counter rises when a loader runs', async () => {
    const run = await startCli(['--metrics', '127.0.0.1:0'], /metrics at (\S+)/);
    try {
      const url = /metrics at (\S+)/.exec(run.stderr())![1];
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const scrape = async () => {
        const res = await fetch(url);
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
        return res.text();
      };
      const before = await scrape();
      const series = 'wxwatch_findings_total{signature="TRC-104"}';
      const findingsBefore = sample(before, series);
      assert.match(before, /^wxwatch_mode\{mode="(tracepoint|lsm-hook[^"]*)"\} 1$/m);
      for (const name of ['seen', 'emitted', 'filtered', 'suppressed', 'lost', 'listener_errors']) sample(before, `wxwatch_${name}_total`);
      assert.match(before, /^process_resident_memory_bytes /m, 'process metrics too');

      // A new process image each run: dedup lets each one through.
      await runFixture(['w2x']);
      await runFixture(['w2x']);
      let after = await scrape();
      const deadline = Date.now() + 5000;
      while (sample(after, series) < findingsBefore + 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        after = await scrape();
      }
      assert.ok(sample(after, series) >= findingsBefore + 2, `${series}: ${findingsBefore} → ${sample(after, series)}`);
      assert.ok(sample(after, 'wxwatch_seen_total') >= sample(before, 'wxwatch_seen_total') + 2);
      assert.ok(sample(after, 'wxwatch_delivery_delay_seconds_count') >= 2);
      // The books balance within one scrape.
      const books = ['emitted', 'filtered', 'suppressed', 'lost'].reduce((n, k) => n + sample(after, `wxwatch_${k}_total`), 0);
      assert.equal(sample(after, 'wxwatch_seen_total'), books + sample(after, 'wxwatch_in_flight'));

      assert.equal((await fetch(url.replace('/metrics', '/'))).status, 404);
      assert.equal((await fetch(`${url}x`)).status, 404);
    } finally {
      await stop(run);
    }
  });

  it('--output appends findings to a 0600 file and reopens it on SIGHUP (logrotate)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-out-'));
    const file = path.join(dir, 'findings.json');
    const run = await startCli(['--output', file], /watching/);
    try {
      const first = await runFixture(['w2x']);
      const has = (f: string, pid: number) => {
        try {
          return readFileSync(f, 'utf8').includes(`"hostProcessId":${pid},`);
        } catch {
          return false; // not there yet
        }
      };
      await until('the first finding in the file', () => has(file, first.pid), 5000);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      renameSync(file, `${file}.1`);
      run.child.kill('SIGHUP');
      await until('SIGHUP handled', () => /SIGHUP/.test(run.stderr()), 5000);
      const second = await runFixture(['w2x']);
      await until('the second finding in the new file', () => has(file, second.pid), 5000);
      assert.equal(has(`${file}.1`, second.pid), false);
    } finally {
      await stop(run);
      rmSync(dir, { recursive: true, force: true });
    }
  });

});

describe('wxwatch CLI daemon flags', () => {
  it('rejects a bad --metrics address and an --output symlink with exit 2', async () => {
    for (const [args, message] of [
      [['--metrics', 'nohost:'], /--metrics takes \[HOST:\]PORT/],
      [['--output', '/proc/self/exe'], /--output: cannot open .*symlink/],
    ] as const) {
      const child = spawn(process.execPath, [CLI, ...args]);
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      const [code] = await once(child, 'exit');
      assert.equal(code, 2, err);
      assert.match(err, message);
    }
  });
});
