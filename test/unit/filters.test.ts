// Point 5 of issue 10: one set of rules for selectors, from the API, the CLI and the filter file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readFilterFile } from '../../lib/filter-file';
import { encodeFilters, parseSelector } from '../../lib/filters';
import { Sensor } from '../../lib/sensor';
import { cgroup2Mount } from '../helpers/procs';
import { nestedCgroups } from '../helpers/cgroups';
import { isRoot } from '../helpers/sensor';

describe('filters: validation', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-filters-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a string where a list belongs, never splitting it into letters', () => {
    assert.throws(() => new Sensor({ allow: { comms: 'wxfix' as unknown as string[] } }), TypeError);
    assert.throws(() => new Sensor({ scope: { pids: 5 as unknown as number[] } }), TypeError);
    const file = path.join(dir, 'string.json');
    writeFileSync(file, '{"allow":{"comms":"wxfix"}}');
    assert.throws(() => readFilterFile(file), /allow\.comms must be an array/);
  });

  const ranges: Array<[string, object, ErrorConstructor]> = [
    ['pid 0', { pids: [0] }, RangeError],
    ['pid above the kernel limit', { pids: [4194305] }, RangeError],
    ['negative pid', { pids: [-1] }, RangeError],
    ['uid -1 (4294967295)', { uids: [4294967295] }, RangeError],
    ['fractional uid', { uids: [1.5] }, RangeError],
    ['pid as a string', { pids: ['1'] }, TypeError],
    ['empty comm', { comms: [''] }, RangeError],
    ['comm of 16 bytes', { comms: ['0123456789abcdef'] }, RangeError],
    ['comm with NUL', { comms: ['a\0b'] }, RangeError],
    ['cgroup id 0', { cgroups: [0] }, RangeError],
    ['unknown field', { names: ['x'] }, TypeError],
    ['a list as the selector', [], TypeError],
  ];
  for (const [what, selector, type] of ranges) {
    it(`refuses ${what}`, () => assert.throws(() => parseSelector(selector, 'allow'), type));
  }

  it('takes an exe only if it names an executable regular file', () => {
    assert.throws(() => encodeFilters({ exes: ['/etc/passwd'] }, undefined), /not an executable file/);
    assert.throws(() => encodeFilters({ exes: ['/usr/bin'] }, undefined), /not an executable file/);
    assert.throws(() => encodeFilters({ exes: ['/no/such/file'] }, undefined), /cannot resolve/);
    assert.doesNotThrow(() => encodeFilters({ exes: [process.execPath] }, undefined));
  });

  it('takes a cgroup path only if it is a directory under a cgroup2 mount', function () {
    assert.throws(() => encodeFilters(undefined, { cgroups: ['/etc/passwd'] }), /not a cgroup v2 directory/);
    assert.throws(() => encodeFilters(undefined, { cgroups: ['/tmp'] }), /not a cgroup v2 directory/);
    const mount = cgroup2Mount();
    if (!mount) this.skip();
    assert.doesNotThrow(() => encodeFilters(undefined, { cgroups: [mount] }));
  });

  it('refuses more allow and scope entries of one kind than the kernel map holds (RangeError naming 4096)', () => {
    const pids = Array.from({ length: 4096 }, (_, i) => i + 1);
    assert.throws(() => encodeFilters({ pids }, { pids: [5000] }), (e: Error) => e instanceof RangeError && /pids: .*4097 .*at most 4096/.test(e.message));
    assert.throws(() => new Sensor({ allow: { comms: pids.map(String) }, scope: { comms: ['other'] } }), RangeError);
    const file = path.join(dir, 'union.json');
    writeFileSync(file, JSON.stringify({ allow: { uids: pids }, scope: { uids: [1] } }));
    const fromFile = readFilterFile(file);
    assert.doesNotThrow(() => encodeFilters(fromFile.allow, fromFile.scope), 'uid 1 is in both lists: one entry, 4096 in all');
    assert.throws(() => encodeFilters(fromFile.allow, { uids: [4097] }), RangeError);
    const sensor = new Sensor();
    assert.throws(() => sensor.setFilters({ allow: { pids }, scope: { pids: [4097] } }), RangeError);
  });

  it('refuses a cgroup at a level the kernel cannot match (it checks levels 0 to 15)', function () {
    if (!isRoot || !cgroup2Mount()) this.skip();
    const chain = nestedCgroups(18);
    try {
      assert.doesNotThrow(() => encodeFilters(undefined, { cgroups: [chain.at(15)] }));
      for (const level of [16, 18]) {
        assert.throws(
          () => encodeFilters({ cgroups: [chain.at(level)] }, undefined),
          (e: Error) => e instanceof RangeError && new RegExp(`level ${level}.*levels 0 to 15`).test(e.message),
        );
      }
      assert.throws(() => new Sensor({ scope: { cgroups: [chain.at(16)] } }), RangeError);
      assert.throws(() => new Sensor().setScope({ cgroups: [chain.at(17)] }), RangeError);
    } finally {
      chain.remove();
    }
  });

  it('reads filter files from regular files only, without blocking on a FIFO', () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const began = Date.now();
    assert.throws(() => readFilterFile(fifo), /not a regular file/);
    assert.ok(Date.now() - began < 1000);
    assert.throws(() => readFilterFile('/dev/zero'), /not a regular file/);
  });

  it('refuses a filter file past the size bound', () => {
    const big = path.join(dir, 'big.json');
    writeFileSync(big, `{"allow":{"pids":[${'1,'.repeat(600000)}1]}}`);
    assert.throws(() => readFilterFile(big), /larger than/);
  });
});

describe('filters: changes', () => {
});
