import assert from 'node:assert/strict';
import { decodeBatch } from '../../lib/mem-prot-alert';
import { addon } from '../../lib/native';
import { checkLayout } from '../../lib/record-layout';
import { ALERT_KIND, REGION, SYSCALL } from '../../lib/wire';
import { ALERT, REGION_NAMES, SYSCALL_NAMES } from '../../lib/event';
import { batch, record } from '../helpers/records';

describe('record layout', () => {
  it('matches what the addon was compiled with', () => {
    assert.doesNotThrow(() => checkLayout(addon.layout));
  });

  it('refuses a layout that moved a field', () => {
    const moved = { ...addon.layout, offsets: { ...addon.layout.offsets, prot: addon.layout.offsets.prot + 4 } };
    assert.throws(() => checkLayout(moved), /prot at 124 != 120/);
  });
});

describe('the wire contract (lib/wire.ts, generated from bpf/wxwatch.h)', () => {
  it("names alert kinds, system calls and regions in the header's order", () => {
    assert.deepEqual(Object.values(ALERT), Object.values(ALERT_KIND));
    assert.deepEqual(
      SYSCALL_NAMES.map((n) => (n === 'unknown' ? 'OTHER' : n.toUpperCase())),
      Object.keys(SYSCALL),
    );
    assert.deepEqual(REGION_NAMES.map((n) => n.toUpperCase().replace('ANONYMOUS', 'ANON')), Object.keys(REGION));
  });
});

describe('decodeBatch', () => {
  it('reads every field and string of consecutive records', () => {
    const buf = batch(
      record({ alert: 4, hostPid: 10, comm: 'first', uts: 'box', path: '/tmp/a', exe: '/bin/x', flags: 1, region: 3, inode: 42n }),
      record({ alert: 2, hostPid: 11, comm: 'second', syscall: 1, prot: 7, prevVmFlags: 0x100073n }),
    );
    const [a, b] = decodeBatch(buf, 2, 5n);
    assert.equal(a.alert, 4);
    assert.equal(a.hostProcessId, 10);
    assert.equal(a.processName, 'first');
    assert.equal(a.hostName, 'box');
    assert.equal(a.pathname, '/tmp/a');
    assert.equal(a.executable.path, '/bin/x');
    assert.equal(a.inode, 42n);
    assert.equal(a.wxwatch.region, 'file');
    assert.equal(a.timestamp, 1_000_000_005n);
    assert.deepEqual(
      a.args.map((x) => x.name),
      ['alert', 'addr', 'len', 'prot', 'prev_prot', 'pathname', 'dev', 'inode', 'ctime'],
    );
    assert.equal(a.args[5].value, '/tmp/a');

    assert.equal(b.alert, 2);
    assert.equal(b.processName, 'second');
    assert.equal(b.syscall, 'pkey_mprotect');
    assert.equal(b.prot, 7);
    assert.equal(b.prevProtRaw, 0x100073);
    assert.equal(b.wxwatch.prevProt, 3);
    assert.equal(b.args[5].value, '', 'no file: empty pathname');
  });

  it('keeps 64-bit addresses exact', () => {
    const [e] = decodeBatch(batch(record({ addr: 0xffff_ffff_ffff_f000n })), 1, 0n);
    assert.equal(e.addr, 0xffff_ffff_ffff_f000n);
  });

  it('rejects a record whose size runs past the batch', () => {
    const bytes = new Uint8Array(record({}));
    new DataView(bytes.buffer).setUint32(0, 1 << 20, true);
    assert.throws(() => decodeBatch(bytes.buffer, 1, 0n), /corrupt batch/);
  });

  it('marks a failed call as a denied event', () => {
    const [e] = decodeBatch(batch(record({ flags: 4, ret: -13n })), 1, 0n);
    assert.equal(e.denied, true);
    assert.equal(e.eventName, 'mem_prot_denied');
    assert.equal(e.returnValue, -13);
  });
});
