// --capture-dir: a stored file is a complete copy or nothing; a full disk is said and counted.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CaptureDir } from '../../lib/output/capture-dir';
import type { Finding } from '../../lib/signatures/signature';
import { isRoot } from '../helpers/sensor';
import { tinyTmpfs } from '../helpers/tmpfs';

/** What CaptureDir reads of a finding: the code's hash and bytes. */
function findingWith(bytes: Uint8Array): Finding {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { Event: { wxwatch: { code: { sha256 } }, codeBytes: bytes } } as unknown as Finding;
}

describe('--capture-dir', () => {
  it('leaves no <sha256>.bin on a full filesystem, says so once, counts each failure', function () {
    if (!isRoot) this.skip();
    const fs = tinyTmpfs(16384);
    try {
      const said: string[] = [];
      const dir = new CaptureDir(fs.dir, 256 << 20, { report: (m) => said.push(m) });
      for (let i = 0; i < 3; i++) assert.equal(dir.store(findingWith(randomBytes(65536))), null);
      assert.deepEqual(readdirSync(fs.dir), [], 'no partial file, no temporary file');
      assert.equal(dir.errors, 3);
      assert.equal(said.length, 1, said.join('\n'));
      assert.match(said[0], /could not store .*ENOSPC/);
      // Room again: what fits is stored whole.
      const small = randomBytes(4096);
      const file = dir.store(findingWith(small))!;
      assert.deepEqual(readFileSync(file), small);
      assert.equal(dir.written, 1);
    } finally {
      fs.unmount();
    }
  });

  it('does not take an empty or cut-short <sha256>.bin for a stored copy', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'wxwatch-capture-'));
    try {
      const code = randomBytes(8192);
      const finding = findingWith(code);
      const name = `${createHash('sha256').update(code).digest('hex')}.bin`;
      writeFileSync(path.join(root, name), ''); // a run that hit a full disk left it
      const file = new CaptureDir(root).store(finding)!;
      assert.equal(file, path.join(root, name));
      assert.deepEqual(readFileSync(file), code);
      writeFileSync(file, randomBytes(8192)); // the right size, not the right bytes
      new CaptureDir(root).store(finding);
      assert.deepEqual(readFileSync(file), code);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(readdirSync(root), [name]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
