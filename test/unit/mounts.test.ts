// The superblock device of a path from mountinfo (lib/mounts.ts): what the kernel's inode has,
// where stat() says otherwise (overlayfs, btrfs).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { superblockDev } from '../../lib/mounts';

describe('superblockDev', () => {
  let dir: string;
  let info: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-mounts-'));
    info = path.join(dir, 'mountinfo');
    // / on 8:1, the test dir under an overlay (0:42), a nested mount with a space in its name
    writeFileSync(
      info,
      [
        '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
        `30 22 0:42 / ${dir} rw,relatime - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c`,
        `31 30 0:43 / ${dir}/with\\040space rw - tmpfs tmpfs rw`,
        '',
      ].join('\n'),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('takes the deepest mount containing the path, and encodes the device as the kernel does', () => {
    writeFileSync(path.join(dir, 'exe'), '');
    assert.equal(superblockDev(path.join(dir, 'exe'), info), (0 << 20) | 42);
    assert.equal(superblockDev('/etc/passwd', info), (8 << 20) | 1);
  });

  it('unescapes mount points and matches whole path components only', () => {
    const spaced = path.join(dir, 'with space');
    require('node:fs').mkdirSync(spaced);
    writeFileSync(path.join(spaced, 'x'), '');
    assert.equal(superblockDev(path.join(spaced, 'x'), info), 43);
    require('node:fs').mkdirSync(`${dir}-sibling`, { recursive: true });
    try {
      assert.equal(superblockDev(`${dir}-sibling`, info), (8 << 20) | 1, 'a sibling with the same prefix is not inside');
    } finally {
      rmSync(`${dir}-sibling`, { recursive: true, force: true });
    }
  });

  it('says nothing for a path that does not exist', () => {
    assert.equal(superblockDev(path.join(dir, 'missing'), info), undefined);
  });
});
