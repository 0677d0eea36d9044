// The real-loaders oracle's model (test/helpers/oracle.ts) on call logs written by hand: what it
// counts is what the e2e test holds the sensor to, so it is tested on its own first.
import assert from 'node:assert/strict';
import { replay } from '../helpers/oracle';

const P = 4242;
const MiB = 1 << 20;
const RW = 3;
const RX = 5;
const R = 1;
const SHARED = 0x01;
const PRIVATE = 0x02;
const ANON = 0x20;
const FIXED = 0x10;

const mmap = (addr: number, len: number, prot: number, flags: number, fd: number, off: number, ret = addr) =>
  `O ${P} mmap ${addr} ${len} ${prot} ${flags} ${fd} ${off} ${ret}`;
const mprotect = (addr: number, len: number, prot: number, ret = 0) => `O ${P} mprotect ${addr} ${len} ${prot} ${ret}`;
const munmap = (addr: number, len: number) => `O ${P} munmap ${addr} ${len} 0`;
const memfd = (fd: number) => `O ${P} memfd ${fd}`;

describe('oracle model (bpftrace call log → counts)', () => {
  it("PHP opcache's segment: shared anonymous RW, the tail flipped RX/RW/RX: two TRC-104, no alias", () => {
    const base = 0x5616_9a20_0000;
    const c = replay(
      [
        mmap(base, 144 * MiB, RW, SHARED | ANON | FIXED, -1, 0),
        mprotect(base + 128 * MiB, 16 * MiB, RX),
        mprotect(base + 128 * MiB, 16 * MiB, RW),
        mprotect(base + 128 * MiB, 16 * MiB, RX),
      ],
      P,
    );
    assert.equal(c['TRC-104'], 2);
    assert.equal(c['WXW-001'], 0);
    assert.equal(c.unknown, 0);
  });

  it("BEAM's double mapping: a memfd mapped RX shared, then RW shared at the same offsets: one alias", () => {
    const c = replay([memfd(17), mmap(0, 8 * MiB, RX, SHARED, 17, 0, 0x7fa8_c4bf_f000), mmap(0, 8 * MiB, RW, SHARED, 17, 0, 0x7fa8_c43f_f000)], P);
    assert.equal(c['WXW-001'], 1);
    assert.equal(c['TRC-104'], 0);
  });

  it('writable view first, then the executable one: one alias; at offsets apart: none', () => {
    assert.equal(replay([memfd(3), mmap(0, 4096, RW, SHARED, 3, 0, 0x10000), mmap(0, 4096, RX, SHARED, 3, 0, 0x20000)], P)['WXW-001'], 1);
    assert.equal(replay([memfd(3), mmap(0, 4096, RW, SHARED, 3, 0, 0x10000), mmap(0, 4096, RX, SHARED, 3, 4096, 0x20000)], P)['WXW-001'], 0);
  });

  it('a private writable mapping of the file is no alias; an unmapped writable view neither', () => {
    assert.equal(replay([memfd(3), mmap(0, 4096, RW, PRIVATE, 3, 0, 0x10000), mmap(0, 4096, RX, SHARED, 3, 0, 0x20000)], P)['WXW-001'], 0);
    assert.equal(replay([memfd(3), mmap(0, 4096, RW, SHARED, 3, 0, 0x10000), munmap(0x10000, 4096), mmap(0, 4096, RX, SHARED, 3, 0, 0x20000)], P)['WXW-001'], 0);
  });

  it('RW→R→RX is WXW-003, not TRC-104; RW→RX is TRC-104 only; R→RX of memory never writable is nothing', () => {
    const two = replay([mmap(0, 4096, RW, PRIVATE | ANON, -1, 0, 0x10000), mprotect(0x10000, 4096, R), mprotect(0x10000, 4096, RX)], P);
    assert.deepEqual([two['TRC-104'], two['WXW-003']], [0, 1]);
    const one = replay([mmap(0, 4096, RW, PRIVATE | ANON, -1, 0, 0x10000), mprotect(0x10000, 4096, RX)], P);
    assert.deepEqual([one['TRC-104'], one['WXW-003']], [1, 0]);
    const none = replay([mmap(0, 4096, R, PRIVATE | ANON, -1, 0, 0x10000), mprotect(0x10000, 4096, RX)], P);
    assert.deepEqual([none['TRC-104'], none['WXW-003']], [0, 0]);
  });

  it('one call over a range judges each mapping in it: RW | R | RW made RX', () => {
    const c = replay(
      [mmap(0, 3 * 4096, RW, PRIVATE | ANON, -1, 0, 0x10000), mprotect(0x11000, 4096, R), mprotect(0x10000, 3 * 4096, RX)],
      P,
    );
    assert.equal(c['TRC-104'], 2);
    assert.equal(c['WXW-003'], 1);
  });

  it('failed calls change nothing; other pids are not counted; exec starts a new address space', () => {
    const c = replay(
      [
        mmap(0, 4096, RW, PRIVATE | ANON, -1, 0, 0x10000),
        mprotect(0x10000, 4096, RX, -13),
        `O ${P + 1} mprotect ${0x10000} 4096 ${RX} 0`,
        `O ${P} execve 0`,
        mprotect(0x10000, 4096, RX),
      ],
      P,
    );
    assert.equal(c['TRC-104'], 0);
    assert.equal(c.unknown, 1, 'the range after exec was never seen mapped: counted, not judged');
  });
});
