// Evidence: a W→X finding carries the SHA-256 of the code it made executable, read in the kernel
// at the change; --capture-dir keeps each distinct piece once.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CaptureDir } from '../../lib/output/capture-dir';
import { REPO, runCommand, runFixture } from '../helpers/fixtures';
import { collect, requireRoot, waitFor, withSensor } from '../helpers/sensor';

const PAGE = 4096;

/** One page: these code bytes, then zeros. */
function pageHash(code: number[]): string {
  const page = Buffer.alloc(PAGE);
  Buffer.from(code).copy(page);
  return createHash('sha256').update(page).digest('hex');
}

describe('evidence (root, real kernel)', function () {
  before(requireRoot);

  it("carries the SHA-256 of the page a Python/ctypes loader made executable: its 6 code bytes and the zeros after them", () =>
    withSensor({}, async (sensor) => {
      const findings = collect(sensor, 'finding');
      const py = await runCommand('/usr/bin/python3', [path.join(REPO, 'test', 'fixtures', 'loader.py')]);
      const f = await waitFor(findings, (x) => x.Event.hostProcessId === py.pid);
      const code = f.Event.wxwatch.code;
      assert.ok(code, 'code evidence');
      assert.equal(code.sha256, pageHash([0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3])); // mov eax, 42; ret
      assert.equal(code.addr, BigInt(py.addr));
      assert.equal(code.bytes, PAGE);
      assert.equal(code.truncated, false);
      assert.deepEqual(code.unreadablePages, []);
    }));

  it('hashes what the C loader wrote, and stores it once, 0600, under --capture-dir', () =>
    withSensor({ dedup: false }, async (sensor) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-capture-'));
      try {
        const captures = new CaptureDir(dir);
        const findings = collect(sensor, 'finding');
        sensor.on('finding', (f) => captures.store(f));
        const a = await runFixture(['w2x']);
        const b = await runFixture(['w2x']);
        for (const fx of [a, b]) {
          const f = await waitFor(findings, (x) => x.Event.hostProcessId === fx.pid);
          assert.equal(f.Event.wxwatch.code?.sha256, pageHash([0xc3])); // ret
        }
        const files = readdirSync(dir);
        assert.deepEqual(files, [`${pageHash([0xc3])}.bin`], 'one file for the same code');
        const file = path.join(dir, files[0]);
        assert.equal(statSync(file).mode & 0o777, 0o600);
        assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), pageHash([0xc3]));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }));

  it('carries no SHA-256 when no byte could be read: pages never touched, made executable', () =>
    withSensor({ dedup: false }, async (sensor) => {
      const findings = collect(sensor, 'finding');
      const fx = await runFixture(['w2x-untouched']);
      const f = await waitFor(findings, (x) => x.Event.hostProcessId === fx.pid);
      const code = f.Event.wxwatch.code;
      assert.ok(code, 'the window is still described');
      assert.equal(code.sha256, null, 'no hash of the empty input');
      assert.equal(code.bytes, 2 * PAGE);
      assert.deepEqual(code.unreadablePages, [0, 1]);
      assert.match(JSON.stringify(f), /"sha256":null/);
    }));

  it('caps the window and says so (captureBytes)', () =>
    withSensor({ dedup: false, captureBytes: PAGE }, async (sensor) => {
      const findings = collect(sensor, 'finding');
      const fx = await runFixture(['many', '3']); // RW | R | RW pages made RX at once
      await waitFor(findings, (x) => x.Event.hostProcessId === fx.pid);
      const f = findings.find((x) => x.Event.hostProcessId === fx.pid)!;
      assert.ok(f.Event.wxwatch.code!.bytes <= PAGE);
    }));
});
