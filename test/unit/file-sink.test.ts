import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileSink } from '../../lib/output/file-sink';
import { isRoot } from '../helpers/sensor';
import { tinyTmpfs } from '../helpers/tmpfs';

describe('--output file sink', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-sink-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the file 0600 and appends lines to what is there', () => {
    const file = path.join(dir, 'out.json');
    const first = new FileSink(file);
    first.write('a');
    first.close();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const second = new FileSink(file);
    second.write('b');
    second.write('c');
    second.close();
    assert.equal(readFileSync(file, 'utf8'), 'a\nb\nc\n');
  });

  it('keeps an existing file mode and batches one turn of the event loop into one write', async () => {
    const file = path.join(dir, 'out.json');
    writeFileSync(file, 'old\n', { mode: 0o640 });
    const sink = new FileSink(file);
    sink.write('x');
    sink.write('y');
    assert.equal(readFileSync(file, 'utf8'), 'old\n', 'nothing written before the turn ends');
    await new Promise((r) => setImmediate(r));
    assert.equal(readFileSync(file, 'utf8'), 'old\nx\ny\n');
    assert.equal(statSync(file).mode & 0o777, 0o640);
    sink.close();
  });

  it('refuses a symlink', () => {
    const target = path.join(dir, 'target');
    writeFileSync(target, '');
    const link = path.join(dir, 'link');
    symlinkSync(target, link);
    assert.throws(() => new FileSink(link), /symlink/);
  });

  it('reopens the path after logrotate moved the file', () => {
    const file = path.join(dir, 'out.json');
    const sink = new FileSink(file);
    sink.write('before');
    sink.flush();
    renameSync(file, `${file}.1`);
    sink.write('late'); // still the old file: rotation happens between write and reopen
    assert.equal(sink.reopen(), undefined);
    sink.write('after');
    sink.close();
    assert.equal(readFileSync(`${file}.1`, 'utf8'), 'before\nlate\n');
    assert.equal(readFileSync(file, 'utf8'), 'after\n');
  });

  it('keeps the old file when the path cannot be reopened', () => {
    const sub = path.join(dir, 'sub');
    const file = path.join(dir, 'out.json');
    const sink = new FileSink(file);
    renameSync(file, `${file}.1`);
    symlinkSync(sub, file); // a symlink now sits where the file was
    assert.match(String(sink.reopen()), /symlink/);
    sink.write('kept');
    sink.close();
    assert.equal(readFileSync(`${file}.1`, 'utf8'), 'kept\n');
    assert.equal(existsSync(sub), false);
  });

  it('refuses a FIFO, a device and a directory at once, without waiting for a reader', () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    assert.throws(() => new FileSink(fifo), /not a regular file \(a FIFO/);
    assert.throws(() => new FileSink('/dev/null'), /not a regular file \(a character device\)/);
    const sub = path.join(dir, 'sub');
    mkdirSync(sub);
    assert.throws(() => new FileSink(sub), /not a regular file/);
  });

  it('keeps the old file when a FIFO has taken the path before the reopen', () => {
    const file = path.join(dir, 'out.json');
    const sink = new FileSink(file);
    renameSync(file, `${file}.1`);
    execFileSync('mkfifo', [file]);
    assert.match(String(sink.reopen()), /not a regular file \(a FIFO/);
    sink.write('kept');
    sink.close();
    assert.equal(readFileSync(`${file}.1`, 'utf8'), 'kept\n');
  });

  it('counts failed writes on a full filesystem, reports once per streak, and is never fatal', function () {
    if (!isRoot) this.skip();
    const fs = tinyTmpfs(16384);
    try {
      const drops: Array<[number, string | undefined, boolean]> = [];
      const sink = new FileSink(path.join(fs.dir, 'out.json'), { onDrop: (n, err, first) => drops.push([n, err.code, first]) });
      sink.write('x'.repeat(20000)); // more than the filesystem holds: ENOSPC after a partial write
      sink.write('b');
      sink.flush();
      sink.write('c');
      sink.flush();
      sink.close();
      assert.equal(sink.dropped, 3);
      assert.equal(sink.lastError?.code, 'ENOSPC');
      assert.deepEqual(drops, [
        [2, 'ENOSPC', true],
        [1, 'ENOSPC', false],
      ]);
    } finally {
      fs.unmount();
    }
  });
});
