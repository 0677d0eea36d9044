// What the command's stdout promises under load (issue 19): whole lines only and counts that
// match what the reader got, no line dropped while a file keeps up, memory below the
// DaemonSet's limit, text for every line in --format text, and names that still name the file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, constants, copyFileSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { peakRssMiB, startCli, summaryOf } from '../helpers/cli';
import { runCommand, runFixture, WXFIX } from '../helpers/fixtures';
import { requireRoot } from '../helpers/sensor';
import { storm } from '../helpers/storm';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// deploy/daemonset.yaml: resources.limits.memory
const DAEMONSET_LIMIT_MIB = 256;

/** The lines of a file, counted a chunk at a time; fails unless it ends with a whole line. */
function wholeLinesIn(file: string): number {
  const fd = openSync(file, 'r');
  const chunk = Buffer.alloc(1 << 20);
  let lines = 0;
  let last = -1;
  try {
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; ) {
      for (let i = chunk.indexOf(0x0a); i !== -1 && i < n; i = chunk.indexOf(0x0a, i + 1)) lines++;
      last = chunk[n - 1];
    }
  } finally {
    closeSync(fd);
  }
  assert.ok(last === -1 || last === 0x0a, 'the file ends with a whole line');
  return lines;
}

/** A FIFO the test reads from, non-blocking, and its write end for the CLI's stdout. */
function fifo(dir: string) {
  const file = path.join(dir, 'fifo');
  execFileSync('mkfifo', [file]);
  const reader = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(file, constants.O_WRONLY);
  const buf = Buffer.alloc(1 << 16);
  let got = '';
  /** Reads up to `max` bytes now; returns how many. */
  const read = (max = buf.length) => {
    try {
      const n = readSync(reader, buf, 0, Math.min(max, buf.length), null);
      got += buf.subarray(0, n).toString();
      return n;
    } catch {
      return 0; // EAGAIN: nothing there now
    }
  };
  return { writer, read, got: () => got, close: () => closeSync(reader) };
}

describe('wxwatch CLI output (root)', function () {
  before(requireRoot);
  this.timeout(120000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-out-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives a slow pipe reader whole lines only, and the summary counts exactly the lines it did not get', async () => {
    const pipe = fifo(dir);
    const run = await startCli(['--no-dedup'], pipe.writer);
    closeSync(pipe.writer);
    // ~1 MB/s: far slower than a storm's lines
    const reading = setInterval(() => pipe.read(16 << 10), 15);
    try {
      await storm(2).done;
      run.child.kill('SIGINT');
      assert.equal(await run.exited, 0, run.stderr());
    } finally {
      clearInterval(reading);
    }
    while (pipe.read() > 0);
    pipe.close();
    const text = pipe.got();
    const s = summaryOf(run.stderr());
    assert.ok(text.endsWith('\n'), `the stream ends with a whole line (${text.length} bytes)`);
    const lines = text.split('\n').slice(0, -1);
    for (const line of lines) JSON.parse(line); // every line whole
    console.log(`      ${lines.length} lines read, ${s.dropped} dropped, ${s.findings} findings`);
    assert.ok(s.dropped > 0, 'the reader was too slow for the storm');
    assert.equal(lines.length + s.dropped, s.findings, 'read + dropped = every line');
  });

  it('drops nothing for a regular file that keeps up, however much one batch holds (--max-output-bytes far below it)', async () => {
    const file = path.join(dir, 'out.json');
    const fd = openSync(file, 'w');
    const run = await startCli(['--no-dedup', '--max-output-bytes', '65536'], fd);
    closeSync(fd);
    await storm(2).done;
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0, run.stderr());
    const s = summaryOf(run.stderr());
    const lines = wholeLinesIn(file); // a quiet host's storm writes more than a string can hold
    console.log(`      ${lines} lines in the file, ${s.findings} findings, ${s.lost} lost in the ring`);
    assert.ok(s.findings > 10000, `${s.findings} findings`);
    assert.equal(s.dropped, 0, run.stderr());
    assert.equal(lines, s.findings);
    assert.doesNotMatch(run.stderr(), /not keeping up/);
  });

  it(`keeps its peak RSS below the DaemonSet's ${DAEMONSET_LIMIT_MIB} Mi through a --no-dedup storm with a stalled pipe reader`, async () => {
    const pipe = fifo(dir); // nobody reads it
    const run = await startCli(['--no-dedup'], pipe.writer);
    closeSync(pipe.writer);
    await storm(3).done;
    const peak = peakRssMiB(run.child.pid!);
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0, run.stderr());
    pipe.close();
    console.log(`      peak RSS ${peak.toFixed(0)} MiB; ${summaryOf(run.stderr()).dropped} lines dropped`);
    assert.ok(peak < DAEMONSET_LIMIT_MIB, `peak RSS ${peak.toFixed(0)} MiB`);
  });

  it('prints --alerts lines as text with --format text', async () => {
    const pipe = fifo(dir);
    const run = await startCli(['--format', 'text', '--alerts'], pipe.writer);
    closeSync(pipe.writer);
    const fx = await runFixture(['r2x']); // alert 2 only: an alert line, no finding
    const sentinel = await runFixture(['w2x']);
    const deadline = Date.now() + 10000;
    while (!pipe.got().includes(`pid=${sentinel.pid} `) && Date.now() < deadline) {
      pipe.read();
      await sleep(20);
    }
    run.child.kill('SIGINT');
    await run.exited;
    pipe.read();
    pipe.close();
    const lines = pipe.got().split('\n').filter(Boolean);
    assert.ok(lines.some((l) => l.includes(`pid=${fx.pid} `) && / mem_prot_alert 2 Protection changed to Executable!: /.test(l)), pipe.got());
    for (const line of lines) assert.doesNotMatch(line, /^\{/, 'no JSON among the text lines');
  });

  it('names a program whose path is not UTF-8 by its bytes, escaped (\\xNN), in JSON and in text', async () => {
    // "wx", 0xff, "\", 0xe9: a JavaScript string cannot hold such a path; a Buffer and bash can
    const name = Buffer.concat([Buffer.from(path.join(dir, 'wx')), Buffer.from([0xff, 0x5c, 0xe9])]);
    copyFileSync(WXFIX, name);
    chmodSync(name, 0o755);
    const escaped = `${path.join(dir, 'wx')}\\xff\\\\\\xe9`;
    for (const format of ['json', 'text']) {
      mkdirSync(path.join(dir, format));
      const pipe = fifo(path.join(dir, format));
      const run = await startCli(['--format', format], pipe.writer);
      closeSync(pipe.writer);
      const fx = await runCommand('bash', ['-c', `exec $'${escaped}' w2x`]);
      const deadline = Date.now() + 10000;
      const mine = () => pipe.got().split('\n').find((l) => l.includes(`"hostProcessId":${fx.pid},`) || l.includes(`pid=${fx.pid} `));
      while (!mine() && Date.now() < deadline) {
        pipe.read();
        await sleep(20);
      }
      run.child.kill('SIGINT');
      await run.exited;
      pipe.close();
      const line = mine();
      assert.ok(line, `a ${format} line for ${fx.pid}`);
      assert.doesNotMatch(line, /\ufffd/);
      if (format === 'json') {
        const d = JSON.parse(line);
        assert.equal(d.executable.path, escaped);
        assert.equal(d.processName, 'wx\\xff\\\\\\xe9');
      } else {
        assert.ok(line.includes(`exe="${escaped}"`), line);
      }
    }
  });
});
