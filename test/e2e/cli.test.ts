// The wxwatch command as a user runs it: a real process, real signals, stdout parsed as JSON.
import assert from 'node:assert/strict';
import { ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { REPO, runCommand, runFixture, WXFIX } from '../helpers/fixtures';
import { requireRoot, TEST_MODE } from '../helpers/sensor';
import { TRACEE_FIELDS } from '../helpers/tracee';

const CLI = path.join(REPO, 'dist', 'lib', 'cli.js');

interface Running {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  stderr: () => string;
}

/** Starts the CLI and resolves once it says it is watching. */
async function startCli(args: string[] = []): Promise<Running> {
  const child = spawn(process.execPath, [CLI, ...args]);
  const lines: string[] = [];
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
    const parts = out.split('\n');
    out = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr.on('data', (d) => (err += d));
  const deadline = Date.now() + 60_000; // a TCG guest takes its time to load the programs
  while (!err.includes('watching')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`CLI did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  // It says "watching" only once its own test W→X has come back through the whole path.
  assert.match(err, /self-check passed \(a test W→X seen in \d+ ms\)\n.*watching/);
  return { child, lines, stderr: () => err };
}

async function lineFor(run: Running, pid: number): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const hit = run.lines.find((l) => l.includes(`"hostProcessId":${pid},`) || l.includes(`pid=${pid} `));
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no line for pid ${pid}: ${run.lines.length} lines`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('wxwatch CLI', function () {
  this.timeout(60000);

  it('prints usage and rejects unknown flags with exit 2', () => {
    const res = spawnSync(process.execPath, [CLI, '--bogus'], { encoding: 'utf8' });
    assert.equal(res.status, 2);
    assert.match(res.stderr, /Unknown option '--bogus'/);
    assert.match(res.stderr, /usage: wxwatch/);
  });

  describe('as root', function () {
    before(requireRoot);

    it('prints a W→X loader as one Tracee detection line and stops cleanly on SIGINT', async () => {
      const run = await startCli();
      const fx = await runFixture(['w2x']);
      const detection = JSON.parse(await lineFor(run, fx.pid));
      assert.deepEqual(Object.keys(detection), [...TRACEE_FIELDS, 'wxwatch']);
      assert.equal(detection.eventName, 'dynamic_code_loading');
      assert.equal(detection.metadata.Properties.signatureID, 'TRC-104');
      assert.equal(detection.processName, 'wxfix');
      const args = detection.args[0].value.args;
      assert.equal(args[0].value, 4);
      assert.equal(String(args[1].value), fx.addr);
      assert.match(run.stderr(), /wxwatch: mode (tracepoint|lsm-hook)/, 'says which mode it uses');
      run.child.kill('SIGINT');
      const [code] = await once(run.child, 'exit');
      assert.equal(code, 0);
      assert.match(run.stderr(), /SIGINT: stopped; seen \d+, emitted \d+, .*lost 0/);
    });

    it('prints C and Python/ctypes loaders as TRC-104 lines and nothing for R→RX, RX→RW, RW→RW or an RWX mmap', async () => {
      const run = await startCli(TEST_MODE ? ['--mode', TEST_MODE] : []);
      try {
        const c = await runFixture(['w2x']);
        const py = await runCommand('/usr/bin/python3', [path.join(REPO, 'test', 'fixtures', 'loader.py')]);
        for (const fx of [c, py]) {
          const detection = JSON.parse(await lineFor(run, fx.pid));
          assert.equal(detection.metadata.Properties.signatureID, 'TRC-104');
          assert.equal(String(detection.args[0].value.args[1].value), fx.addr);
        }
        const quiet = [];
        for (const mode of ['r2x', 'x2w', 'w2w', 'mmap-wx']) quiet.push((await runFixture([mode])).pid);
        await lineFor(run, (await runFixture(['w2x'])).pid); // everything before it has been printed
        for (const pid of quiet) {
          assert.equal(run.lines.filter((l) => l.includes(`"hostProcessId":${pid},`)).length, 0, `nothing for ${pid}`);
        }
      } finally {
        run.child.kill('SIGINT');
        await once(run.child, 'exit');
      }
    });

    it('prints escaped one-line text with --format text and stops on SIGTERM', async () => {
      const run = await startCli(['--format', 'text']);
      const fx = await runFixture(['w2x']);
      const line = await lineFor(run, fx.pid);
      assert.match(line, /TRC-104 Dynamic code loading detected: pid=\d+ .*comm="wxfix"/);
      run.child.kill('SIGTERM');
      const [code] = await once(run.child, 'exit');
      assert.equal(code, 0);
    });

    it('filters from --filter-file, and takes a changed file on SIGHUP', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-cli-'));
      const other = path.join(dir, 'wxother');
      copyFileSync(WXFIX, other);
      chmodSync(other, 0o755);
      const file = path.join(dir, 'filters.json');
      writeFileSync(file, JSON.stringify({ allow: { comms: ['wxfix'] } }));
      const run = await startCli(['--filter-file', file]);
      try {
        const ignored = await runFixture(['w2x']);
        const seen = await runCommand(other, ['w2x']);
        await lineFor(run, seen.pid); // records leave in order: the ignored one came before
        assert.equal(run.lines.filter((l) => l.includes(`"hostProcessId":${ignored.pid},`)).length, 0);

        writeFileSync(file, JSON.stringify({ allow: {} }));
        run.child.kill('SIGHUP');
        for (let i = 0; !run.stderr().includes('filters reloaded'); i++) {
          if (i > 500) throw new Error(`no reload: ${run.stderr()}`);
          await new Promise((r) => setTimeout(r, 10));
        }
        const now = await runFixture(['w2x']);
        await lineFor(run, now.pid);
      } finally {
        run.child.kill('SIGINT');
        await once(run.child, 'exit');
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('says which capabilities are missing and exits non-zero without them', () => {
      // Root with an empty bounding set execs with no capabilities at all.
      const res = spawnSync('setpriv', ['--bounding-set=-all', '--inh-caps=-all', process.execPath, CLI], {
        encoding: 'utf8',
      });
      assert.equal(res.status, 77, res.stderr);
      assert.match(res.stderr, /needs root, or the capabilities CAP_BPF and CAP_PERFMON.*missing: CAP_BPF, CAP_PERFMON/);
    });
  });
});
