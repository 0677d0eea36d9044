// The wxwatch command as a user runs it: a real process, real signals, stdout parsed as JSON.
import assert from 'node:assert/strict';
import { ChildProcess, ChildProcessWithoutNullStreams, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { get } from 'node:http';
import { connect, Socket } from 'node:net';
import { modeMissing } from '../../lib/kernel-features';
import { systemProbe } from '../../lib/privileges';
import { REPO, runCommand, runFixture, WXFIX } from '../helpers/fixtures';
import { isRoot, requireRoot, TEST_MODE } from '../helpers/sensor';
import { nestedCgroups } from '../helpers/cgroups';
import { storm } from '../helpers/storm';
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

/** The CLI reading a filter file that allowlists what it is given; `other` is wxfix under
 * another name (comm "wxother"), so that one fixture is filtered and the other is not. */
async function cliWithFilterFile(filters: unknown) {
  const dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-cli-'));
  const other = path.join(dir, 'wxother');
  copyFileSync(WXFIX, other);
  chmodSync(other, 0o755);
  const file = path.join(dir, 'filters.json');
  writeFileSync(file, JSON.stringify(filters));
  return { dir, other, file, run: await startCli(['--filter-file', file]) };
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

  describe('refuses bad filters before loading anything (exit 2)', () => {
    let dir: string;
    before(() => (dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-cli-'))));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const refused = (args: string[], pattern: RegExp) => {
      const res = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 10000 });
      assert.equal(res.signal, null, 'did not hang');
      assert.equal(res.status, 2, res.stderr);
      assert.match(res.stderr, pattern);
    };

    it('a filter file with a string where a list belongs', () => {
      const file = path.join(dir, 'string.json');
      writeFileSync(file, '{"allow":{"comms":"wxfix"}}');
      refused(['--filter-file', file], /allow\.comms must be an array/);
    });

    it('a FIFO or /dev/zero as the filter file, without blocking', () => {
      const fifo = path.join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      refused(['--filter-file', fifo], /not a regular file/);
      refused(['--filter-file', '/dev/zero'], /not a regular file/);
    });

    it('a cgroup that is not a cgroup v2 directory, an exe that is not executable, a pid out of range', () => {
      refused(['--scope', 'cgroup=/etc/passwd'], /not a cgroup v2 directory/);
      refused(['--allow', 'exe=/etc/passwd'], /not an executable file/);
      refused(['--allow', 'pid=0'], /pids from 1/);
    });

    it('--max-output-bytes below one largest line, naming the minimum', () => {
      refused(['--max-output-bytes', '0'], /--max-output-bytes must be at least 65536/);
      refused(['--max-output-bytes', '65535'], /--max-output-bytes must be at least 65536/);
    });

    it('a FIFO or a device as --output, at once and without blocking', () => {
      const fifo = path.join(dir, 'out.fifo');
      execFileSync('mkfifo', [fifo]);
      refused(['--output', fifo], /--output: .*out\.fifo.*not a regular file/);
      refused(['--output', '/dev/null'], /--output: .*not a regular file/);
    });

    it('more allow and scope entries of one kind than the kernel map holds (4096), naming the limit', () => {
      const file = path.join(dir, 'many-pids.json');
      writeFileSync(file, JSON.stringify({ allow: { pids: Array.from({ length: 4096 }, (_, i) => i + 1) } }));
      refused(['--filter-file', file, '--scope', 'pid=5000'], /pids: .*4097 .*at most 4096/);
    });

    it('a cgroup deeper than the kernel matches (levels 0-15), from the flags and the filter file', function () {
      if (!isRoot) this.skip();
      const chain = nestedCgroups(18);
      try {
        refused(['--scope', `cgroup=${chain.at(16)}`], /cgroup.*level 16.*levels 0 to 15/);
        refused(['--allow', `cgroup=${chain.at(18)}`], /cgroup.*level 18.*levels 0 to 15/);
        const file = path.join(dir, 'deep.json');
        writeFileSync(file, JSON.stringify({ scope: { cgroups: [chain.at(17)] } }));
        refused(['--filter-file', file], /cgroup.*level 17.*levels 0 to 15/);
      } finally {
        chain.remove();
      }
    });
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

    it('prints C and Python/ctypes loaders as TRC-104 lines, nothing for R→RX, RX→RW or RW→RW, and an RWX mmap as WXW-005 only', async () => {
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
        for (const mode of ['r2x', 'x2w', 'w2w']) quiet.push((await runFixture([mode])).pid);
        const rwx = (await runFixture(['mmap-wx'])).pid;
        await lineFor(run, (await runFixture(['w2x'])).pid); // everything before it has been printed
        for (const pid of quiet) {
          assert.equal(run.lines.filter((l) => l.includes(`"hostProcessId":${pid},`)).length, 0, `nothing for ${pid}`);
        }
        const rwxLines = run.lines.filter((l) => l.includes(`"hostProcessId":${rwx},`)).map((l) => JSON.parse(l));
        assert.deepEqual(
          rwxLines.map((d) => d.metadata.Properties.signatureID),
          ['WXW-005'],
        );
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
      const { dir, other, file, run } = await cliWithFilterFile({ allow: { comms: ['wxfix'] } });
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

    describe('output faults', () => {
      // A test that fails half-way must not leave a sensor running for the rest of the suite.
      const started: ChildProcess[] = [];
      afterEach(() => {
        for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      /** The CLI with its own stdout; resolves once it is watching. */
      async function cliWith(args: string[], stdout: 'pipe' | number) {
        const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', stdout, 'pipe'] });
        started.push(child);
        let err = '';
        child.stderr!.on('data', (d) => (err += d));
        const deadline = Date.now() + 15000;
        while (!err.includes('watching')) {
          if (child.exitCode !== null || Date.now() > deadline) throw new Error(`CLI did not start: ${err}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        return { child, stderr: () => err };
      }
      const rssMB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

      it('ends quietly with its summary and exit 0 when the reader goes away (| head -1)', async () => {
        const dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-epipe-'));
        const err = path.join(dir, 'stderr');
        const code = path.join(dir, 'code');
        // exec'd by its own shell, so that killing the group on failure stops the sensor too
        const shell = spawn('bash', ['-c', `"$0" "$1" --no-dedup 2>"$2" | head -1 >/dev/null; echo "\${PIPESTATUS[0]}" >"$3"`, process.execPath, CLI, err, code], { detached: true });
        try {
          const deadline = Date.now() + 30000;
          while (shell.exitCode === null && Date.now() < deadline) {
            if (existsSync(err) && readFileSync(err, 'utf8').includes('watching')) await runFixture(['w2x']);
            await new Promise((r) => setTimeout(r, 50));
          }
          if (shell.exitCode === null) await once(shell, 'exit');
          const stderr = readFileSync(err, 'utf8');
          assert.equal(readFileSync(code, 'utf8').trim(), '0', stderr);
          assert.match(stderr, /stdout closed: stopped; seen \d+/);
          assert.doesNotMatch(stderr, /EPIPE|\n\s+at /, 'no error, no stack');
        } finally {
          if (shell.exitCode === null) process.kill(-shell.pid!, 'SIGKILL');
          rmSync(dir, { recursive: true, force: true });
        }
      });

      it('counts lines it cannot write (ENOSPC) as dropped, says so once, and keeps watching', async () => {
        const full = openSync('/dev/full', 'w');
        const run = await cliWith(['--no-dedup'], full);
        closeSync(full);
        await runFixture(['w2x']);
        await runFixture(['w2x']);
        for (let i = 0; !/ENOSPC/.test(run.stderr()); i++) {
          if (i > 250) throw new Error(`no ENOSPC report: ${run.stderr()}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        await runFixture(['w2x']);
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(run.child.exitCode, null, 'still watching');
        run.child.kill('SIGINT');
        const [exit] = await once(run.child, 'exit');
        assert.equal(exit, 0, run.stderr());
        assert.equal(run.stderr().match(/ENOSPC/g)!.length, 1, run.stderr());
        const dropped = Number(/dropped (\d+)\n/.exec(run.stderr())![1]);
        assert.ok(dropped >= 3, run.stderr());
      });

      it('bounds what a stalled stdout holds, obeys SIGTERM, and counts what it dropped', async () => {
        const run = await cliWith(['--no-dedup', '--max-output-bytes', '1048576'], 'pipe');
        const rssBefore = rssMB(run.child.pid!);
        // Nobody reads run.child.stdout: the pipe fills and stays full.
        await storm(2).done;
        const rss = rssMB(run.child.pid!);
        const began = Date.now();
        run.child.kill('SIGTERM');
        const [exit] = await once(run.child, 'exit');
        const took = Date.now() - began;
        run.child.stdout!.destroy();
        console.log(`      stalled stdout: RSS ${rssBefore.toFixed(0)} → ${rss.toFixed(0)} MB over the storm, stopped in ${took} ms`);
        assert.equal(exit, 0, run.stderr());
        assert.ok(took < 5000, `SIGTERM took ${took} ms`);
        assert.ok(rss - rssBefore < 200, `RSS ${rssBefore} → ${rss} MB`);
        assert.match(run.stderr(), /not keeping up/);
        assert.ok(Number(/dropped (\d+)\n/.exec(run.stderr())![1]) > 1000, run.stderr());
      });

      it('exits at once on a second SIGTERM', async () => {
        const run = await cliWith(['--no-dedup', '--max-output-bytes', '1048576'], 'pipe');
        await storm(1).done; // enough queued that the first SIGTERM waits for stdout
        run.child.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 100));
        const began = Date.now();
        run.child.kill('SIGTERM');
        const [exit] = await once(run.child, 'exit');
        const took = Date.now() - began;
        run.child.stdout!.destroy();
        assert.ok(took < 2000, `the second SIGTERM took ${took} ms`);
        assert.ok(exit === 143 || exit === 0, `exit ${exit}: ${run.stderr()}`);
        if (exit === 143) assert.match(run.stderr(), /SIGTERM again: exiting now/);
      });
    });

    it('survives a SIGHUP that comes before it is watching, and reloads once watching', async () => {
      const child = spawn(process.execPath, [CLI], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      try {
        // Signal 1 caught (SigCgt bit 0): the CLI has its handler, and is not watching yet.
        const catchesHup = () => (parseInt(/SigCgt:\s+([0-9a-f]+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1], 16) & 1) === 1;
        let sent = false;
        const deadline = Date.now() + 60_000;
        while (!sent && !err.includes('watching') && child.exitCode === null && Date.now() < deadline) {
          if (catchesHup()) {
            sent = !err.includes('watching');
            child.kill('SIGHUP');
          } else {
            await new Promise((r) => setTimeout(r, 2));
          }
        }
        assert.ok(sent, `SIGHUP not caught before "watching": ${err}`);
        while (!err.includes('filters reloaded') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.equal(child.exitCode, null, `it died: ${err}`);
        // The loop may take the signal before "watching" (deferred, said so) or just after it.
        assert.match(err, /(SIGHUP before watching: deferred until watching\n[^]*)?watching[^]*SIGHUP: filters reloaded/);
        assert.equal(err.match(/filters reloaded/g)!.length, 1, err);
        child.kill('SIGINT');
        const [code] = await once(child, 'exit');
        assert.equal(code, 0, err);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });

    it('keeps writing the old --output file when a FIFO takes its place before SIGHUP, and still stops on SIGINT', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-cli-'));
      const file = path.join(dir, 'findings.json');
      const run = await startCli(['--output', file]);
      try {
        renameSync(file, `${file}.1`);
        execFileSync('mkfifo', [file]);
        run.child.kill('SIGHUP');
        for (let i = 0; !/SIGHUP: kept writing the old/.test(run.stderr()); i++) {
          if (i > 500) throw new Error(`no message: ${run.stderr()}`);
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.match(run.stderr(), /SIGHUP: kept writing the old .*findings\.json: .*not a regular file \(a FIFO/);
        const fx = await runFixture(['w2x']);
        for (let i = 0; !readFileSync(`${file}.1`, 'utf8').includes(`"hostProcessId":${fx.pid},`); i++) {
          if (i > 1500) throw new Error(`no finding for ${fx.pid} in the old file`);
          await new Promise((r) => setTimeout(r, 10));
        }
        run.child.kill('SIGINT');
        const [code] = await once(run.child, 'exit');
        assert.equal(code, 0, run.stderr());
      } finally {
        if (run.child.exitCode === null) run.child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('bounds --metrics connections (idle ones closed, past the cap refused) and keeps watching', async () => {
      const run = await startCli(['--metrics', '127.0.0.1:0']);
      const sockets: Socket[] = [];
      try {
        for (let i = 0; !/metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/.test(run.stderr()); i++) {
          if (i > 500) throw new Error(`no metrics address: ${run.stderr()}`);
          await new Promise((r) => setTimeout(r, 10));
        }
        const port = Number(/metrics at http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(run.stderr())![1]);
        // More idle connections than the cap: each is closed by the server, the extra ones at once.
        // Each step has its own deadline, so that a hang names the step (a CI run once timed out here).
        const step = <T>(what: string, p: Promise<T>, ms = 15_000) =>
          Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms; ${run.stderr().slice(-500)}`)), ms).unref())]);
        const closed: Array<Promise<unknown>> = [];
        for (let i = 0; i < 24; i++) {
          const socket = connect(port, '127.0.0.1');
          socket.on('error', () => {});
          sockets.push(socket);
          closed.push(new Promise((resolve) => socket.once('close', resolve)));
          await step(`connection ${i}`, new Promise((resolve) => socket.once('connect', resolve).once('close', resolve)));
        }
        const fx = await step('the fixture', runFixture(['w2x']));
        await lineFor(run, fx.pid);
        // none is closed before the limits; the idle ones after 5 s
        await step(`closing (${sockets.filter((x) => !x.destroyed).length} of 24 open)`, Promise.all(closed));
        const body = await step(
          'GET /metrics',
          new Promise<string>((resolve, reject) =>
            get(`http://127.0.0.1:${port}/metrics`, (res) => {
              let text = '';
              res.on('data', (d) => (text += d)).on('end', () => resolve(text));
            }).on('error', reject),
          ),
        );
        assert.match(body, /^wxwatch_emitted_total [1-9]/m);
        run.child.kill('SIGINT');
        const [code] = await step('exit on SIGINT', once(run.child, 'exit'));
        assert.equal(code, 0, run.stderr());
      } finally {
        for (const s of sockets) s.destroy();
        if (run.child.exitCode === null) run.child.kill('SIGKILL');
      }
    });

    it('keeps the old filters exactly when a SIGHUP reload is refused', async () => {
      const { dir, other, file, run } = await cliWithFilterFile({ allow: { comms: ['wxfix'] } });
      try {
        writeFileSync(file, '{"allow":{"comms":"wxfix"}}'); // a string where a list belongs
        run.child.kill('SIGHUP');
        for (let i = 0; !run.stderr().includes('SIGHUP: filters unchanged'); i++) {
          if (i > 500) throw new Error(`no refusal: ${run.stderr()}`);
          await new Promise((r) => setTimeout(r, 10));
        }
        const ignored = await runFixture(['w2x']);
        const seen = await runCommand(other, ['w2x']);
        await lineFor(run, seen.pid);
        assert.equal(run.lines.filter((l) => l.includes(`"hostProcessId":${ignored.pid},`)).length, 0, 'wxfix still allowlisted');
      } finally {
        run.child.kill('SIGINT');
        await once(run.child, 'exit');
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('runs as a non-root user with only CAP_BPF and CAP_PERFMON (no tracefs, no CAP_SYS_ADMIN)', async () => {
      const caps = ['--inh-caps=+bpf,+perfmon', '--ambient-caps=+bpf,+perfmon'];
      const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...caps, process.execPath, CLI], {
        cwd: '/',
      });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      const deadline = Date.now() + 60_000;
      while (!/watching/.test(err) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGINT');
      await once(child, 'exit');
      assert.match(err, /self-check passed.*\n.*watching/, err);
    });

    it('says which capabilities are missing and exits non-zero without them', () => {
      // Root with an empty bounding set execs with no capabilities at all.
      const res = spawnSync('setpriv', ['--bounding-set=-all', '--inh-caps=-all', process.execPath, CLI], {
        encoding: 'utf8',
      });
      assert.equal(res.status, 77, res.stderr);
      assert.match(res.stderr, /needs root, or the capabilities CAP_BPF and CAP_PERFMON.*missing: CAP_BPF, CAP_PERFMON/);
    });

    for (const mode of ['lsm-hook', 'tracepoint']) {
      it(`names what this kernel lacks for --mode ${mode}, before loading (exit 77)`, function () {
        // From this kernel's own BTF; on one that has it all there is nothing to refuse.
        const missing = modeMissing(mode, systemProbe().kernel ?? null);
        if (!missing.length) this.skip();
        const res = spawnSync(process.execPath, [CLI, '--mode', mode], { encoding: 'utf8', timeout: 60_000 });
        assert.equal(res.status, 77, res.stderr);
        assert.ok(res.stderr.includes(`cannot start in mode ${mode} on this kernel`), res.stderr);
        for (const m of missing) assert.ok(res.stderr.includes(m), `names ${m}: ${res.stderr}`);
        assert.doesNotMatch(res.stderr, /Invalid argument|load failed/, 'refused before any load');
      });
    }
  });
});
