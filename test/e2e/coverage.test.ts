// The real sensor on the cases a loader's plain RW→RX does not reach: ranges over several VMAs,
// pkey_mprotect, mmap W+X, file-backed and memfd regions, a process gone
// before its record is read, a PID namespace, and the whole alert truth table. Every field is
// checked against what the fixture printed about itself.
import assert from 'node:assert/strict';
import os from 'node:os';
import { MemProtAlert } from '../../lib/mem-prot-alert';
import { runFixture, WXFIX } from '../helpers/fixtures';
import { cgroupV2Id, FileReport, kernelDev, nsInode, runWithPid } from '../helpers/procs';
import { collect, requireRoot, settle, waitFor, withSensor } from '../helpers/sensor';

const PROT_READ = 0x1;
const PROT_WRITE = 0x2;
const PROT_EXEC = 0x4;

/** The fields a record's argument and region checks compare, as one object. */
function fields(a: MemProtAlert) {
  return {
    alert: a.alert,
    syscall: a.syscall,
    addr: a.addr,
    len: a.len,
    prot: a.prot,
    prevProtRaw: a.prevProtRaw,
    returnValue: a.returnValue,
    hasFile: a.hasFile,
    pathname: a.pathname,
    dev: a.dev,
    inode: a.inode,
    ctime: a.ctime,
    region: a.wxwatch.region,
    fileDeleted: a.wxwatch.fileDeleted,
  };
}

const byAddr = (a: MemProtAlert, b: MemProtAlert) => (a.wxwatch.vmaStart < b.wxwatch.vmaStart ? -1 : 1);

describe('coverage (root, real kernel)', function () {
  before(requireRoot);

  // dedup off in the range tests: one record per alerting VMA, as Tracee gives (with it on, the
  // two RW VMAs of one process would be one transition).
  it('judges each VMA of a range on its own: RW|R|RW made RX in one call is alerts 4, 2, 4', () =>
    withSensor({ alerts: true, dedup: false }, async (sensor) => {
      const alerts = collect(sensor, 'alert');
      const findings = collect(sensor, 'finding');
      const fx = await runFixture(['multi']);
      await settle(findings);
      const page = fx.len / 3;
      const addr = BigInt(fx.addr);
      const mine = alerts.filter((a) => a.hostProcessId === fx.pid).sort(byAddr);
      assert.deepEqual(
        mine.map((a) => a.alert),
        [4, 2, 4],
      );
      mine.forEach((a, i) => {
        assert.equal(a.wxwatch.vmaStart, addr + BigInt(i * page), `VMA ${i} start`);
        assert.equal(a.wxwatch.vmaEnd, addr + BigInt((i + 1) * page), `VMA ${i} end`);
        assert.equal(a.addr, addr, 'the syscall addr');
        assert.equal(a.len, 3 * page, 'the syscall len');
        assert.equal(a.prot, PROT_READ | PROT_EXEC);
        assert.equal(a.wxwatch.prevProt, i === 1 ? PROT_READ : PROT_READ | PROT_WRITE);
        assert.equal(a.syscall, 'mprotect');
      });
      const hits = findings.filter((f) => f.Event.hostProcessId === fx.pid);
      assert.equal(hits.length, 2);
      assert.deepEqual(
        hits.map((f) => f.Event).sort(byAddr).map((e) => e.wxwatch.vmaStart),
        [addr, addr + BigInt(2 * page)],
      );
    }));

  it('reports pkey_mprotect W→X as a finding with syscall pkey_mprotect', () =>
    withSensor({}, async (sensor) => {
      const findings = collect(sensor, 'finding');
      const fx = await runFixture(['pkey']);
      const e = (await waitFor(findings, (f) => f.Event.hostProcessId === fx.pid)).Event;
      assert.equal(e.syscall, 'pkey_mprotect');
      assert.equal(e.alert, 4);
      assert.equal(e.addr, BigInt(fx.addr));
      assert.equal(e.len, fx.len);
      assert.equal(e.prot, PROT_READ | PROT_EXEC);
      assert.equal(e.returnValue, 0);
      assert.equal(e.hostThreadId, fx.tid);
    }));

  it('reports an anonymous mmap W+X at its mapped address and without file, whatever fd was passed', () =>
    withSensor({ alerts: true }, async (sensor) => {
      const alerts = collect(sensor, 'alert');
      const findings = collect(sensor, 'finding');
      const fx = await runFixture(['mmap-wx']);
      await settle(findings);
      const mine = alerts.filter((a) => a.hostProcessId === fx.pid);
      assert.equal(mine.length, 1);
      assert.notEqual(BigInt(fx.addr), 0n);
      // all fields at once, so that a failure shows every one that differs
      assert.deepEqual(fields(mine[0]), {
        alert: 1,
        syscall: 'mmap',
        addr: BigInt(fx.addr), // the mapped address, not the hint 0
        len: fx.len,
        prot: PROT_READ | PROT_WRITE | PROT_EXEC,
        prevProtRaw: 0,
        returnValue: 0,
        hasFile: false, // fd 0 with MAP_ANONYMOUS is no file
        pathname: '',
        dev: 0,
        inode: 0n,
        ctime: 0n,
        region: 'anonymous',
        fileDeleted: false,
      });
      assert.equal(mine[0].wxwatch.vmaStart, BigInt(fx.addr));
      const mineFindings = findings.filter((f) => f.Event.hostProcessId === fx.pid);
      assert.equal(mineFindings.filter((f) => f.SigMetadata.ID === 'TRC-104').length, 0, 'alert 1 is no TRC-104');
      // writable and executable at once: wxwatch's WXW-005, once
      assert.deepEqual(mineFindings.map((f) => f.SigMetadata.ID), ['WXW-005']);
    }));

  it('reports a file mmap W+X with the file', () =>
    withSensor({ alerts: true }, async (sensor) => {
      const alerts = collect(sensor, 'alert');
      const findings = collect(sensor, 'finding');
      const fx = (await runFixture(['mmap-wx-file'])) as FileReport;
      await settle(findings);
      const mine = alerts.filter((a) => a.hostProcessId === fx.pid);
      assert.equal(mine.length, 1);
      assert.deepEqual(fields(mine[0]), {
        alert: 1,
        syscall: 'mmap',
        addr: BigInt(fx.addr),
        len: fx.len,
        prot: PROT_READ | PROT_WRITE | PROT_EXEC,
        prevProtRaw: 0,
        returnValue: 0,
        hasFile: true,
        pathname: fx.path,
        dev: kernelDev(fx.dev),
        inode: BigInt(fx.inode),
        ctime: BigInt(fx.ctime),
        region: 'file',
        fileDeleted: false,
      });
    }));

  describe('file-backed regions', () => {
    const fileFinding = (mode: string) =>
      withSensor({}, async (sensor) => {
        const findings = collect(sensor, 'finding');
        const fx = (await runFixture([mode])) as FileReport;
        const e = (await waitFor(findings, (f) => f.Event.hostProcessId === fx.pid)).Event;
        return { fx, e };
      });

    for (const [mode, deleted] of [
      ['file', false],
      ['deleted', true],
    ] as const) {
      it(`reports a ${deleted ? 'deleted ' : ''}file's path, device, inode and ctime (mode ${mode})`, async () => {
        const { fx, e } = await fileFinding(mode);
        assert.equal(e.wxwatch.prevProt, PROT_READ | PROT_WRITE);
        assert.deepEqual(fields(e), {
          alert: 4,
          syscall: 'mprotect',
          addr: BigInt(fx.addr),
          len: fx.len,
          prot: PROT_READ | PROT_EXEC,
          prevProtRaw: e.prevProtRaw,
          returnValue: 0,
          hasFile: true,
          pathname: fx.path, // the same path when deleted: no " (deleted)" suffix
          dev: kernelDev(fx.dev),
          inode: BigInt(fx.inode),
          ctime: BigInt(fx.ctime), // st_ctim in ns
          region: 'file',
          fileDeleted: deleted,
        });
        const args = Object.fromEntries(e.args.map((x) => [x.name, x.value]));
        assert.deepEqual([args.pathname, args.dev, args.inode, args.ctime], [e.pathname, e.dev, e.inode, e.ctime]);
      });
    }

    it('reports a memfd region by its name', async () => {
      const { fx, e } = await fileFinding('memfd');
      assert.equal(e.alert, 4);
      assert.equal(e.addr, BigInt(fx.addr));
      assert.equal(e.hasFile, true);
      assert.equal(e.wxwatch.region, 'memfd');
      assert.equal(e.pathname, '/memfd:wxfix-payload');
      assert.equal(e.inode, BigInt(fx.inode));
      assert.equal(e.dev, kernelDev(fx.dev));
      assert.equal(e.wxwatch.fileDeleted, true, 'a memfd has no links');
    });
  });

  it('keeps the full context of a process that exits right after its W→X', () =>
    withSensor({}, async (sensor) => {
      const findings = collect(sensor, 'finding');
      const fx = await runFixture(['exit-fast']);
      const e = (await waitFor(findings, (f) => f.Event.hostProcessId === fx.pid)).Event;
      assert.equal(e.addr, BigInt(fx.addr));
      assert.equal(e.processName, 'wxfix');
      assert.equal(e.executable.path, WXFIX);
      assert.equal(e.hostName, os.hostname());
      assert.equal(e.hostParentProcessId, process.pid);
      assert.notEqual(e.mountNamespace, 0);
      assert.notEqual(e.pidNamespace, 0);
      assert.notEqual(e.cgroupId, 0n);
      assert.equal(e.mountNamespace, nsInode('mnt'), 'the parent’s mount namespace');
      assert.equal(e.pidNamespace, nsInode('pid'), 'the parent’s pid namespace');
      const cgroup = cgroupV2Id();
      if (cgroup !== null) assert.equal(e.cgroupId, cgroup, 'the parent’s cgroup');
      assert.ok(e.threadStartTime > 0n, 'threadStartTime > 0');
      assert.ok(e.threadStartTime <= e.timestamp, 'started before its W→X');
    }));

  it('reports pids as seen in the process’s own PID namespace', () =>
    withSensor({}, async (sensor) => {
      const findings = collect(sensor, 'finding');
      const run = await runWithPid('unshare', ['--pid', '--fork', WXFIX, 'w2x']);
      const fx = run.report;
      assert.equal(fx.pid, 1, 'the fixture is pid 1 in its namespace');
      const e = (
        await waitFor(findings, (f) => f.Event.hostParentProcessId === run.pid && f.Event.addr === BigInt(fx.addr))
      ).Event;
      assert.equal(e.processId, 1);
      assert.equal(e.threadId, 1);
      assert.notEqual(e.hostProcessId, 1);
      assert.notEqual(e.hostProcessId, e.processId);
      assert.equal(e.hostThreadId, e.hostProcessId);
      assert.notEqual(e.pidNamespace, nsInode('pid'), 'a pid namespace of its own');
      assert.equal(e.parentProcessId, 0, 'the parent (unshare) is outside the namespace');
      assert.equal(e.processName, 'wxfix');
      assert.equal(e.executable.path, WXFIX);
    }));

  describe('the alert truth table (prev × request, PROT_READ plus the bits)', () => {
    type Bits = 'none' | 'W' | 'X' | 'W+X';
    const BITS: Record<Bits, number> = { none: 0, W: PROT_WRITE, X: PROT_EXEC, 'W+X': PROT_WRITE | PROT_EXEC };
    // docs trc104-reference.md §1: no alert without EXEC requested
    const EXPECTED: Record<Bits, Record<Bits, number | null>> = {
      none: { none: null, W: null, X: 2, 'W+X': 2 },
      W: { none: null, W: null, X: 4, 'W+X': 2 },
      X: { none: null, W: null, X: null, 'W+X': 3 },
      'W+X': { none: null, W: null, X: 4, 'W+X': null },
    };
    const names = Object.keys(BITS) as Bits[];
    const cases = names.flatMap((prev) => names.map((req) => ({ prev, req, expected: EXPECTED[prev][req] })));

    it('gives each of the 16 combinations exactly the alert of the reference table', () =>
      withSensor({ alerts: true }, async (sensor) => {
        const alerts = collect(sensor, 'alert');
        const findings = collect(sensor, 'finding');
        const runs = await Promise.all(
          cases.map(async (c) => {
            const from = PROT_READ | BITS[c.prev];
            const to = PROT_READ | BITS[c.req];
            return { ...c, from, to, fx: await runFixture(['prot', String(from), String(to)]) };
          }),
        );
        await settle(findings);
        const problems: string[] = [];
        for (const { prev, req, expected, from, to, fx } of runs) {
          const label = `prev ${prev} → request ${req}`;
          assert.equal(fx.rc, 0, `${label}: the fixture's mprotect succeeded`);
          const mine = alerts.filter((a) => a.hostProcessId === fx.pid);
          // mmap(FROM) with W+X is itself alert 1
          const mmaps = mine.filter((a) => a.syscall === 'mmap');
          const wantMmap = prev === 'W+X' ? [1] : [];
          if (JSON.stringify(mmaps.map((a) => a.alert)) !== JSON.stringify(wantMmap)) {
            problems.push(`${label}: mmap alerts ${JSON.stringify(mmaps.map((a) => a.alert))}, want ${JSON.stringify(wantMmap)}`);
          }
          const mprots = mine.filter((a) => a.syscall === 'mprotect');
          const want = expected === null ? [] : [expected];
          const got = mprots.map((a) => a.alert);
          if (JSON.stringify(got) !== JSON.stringify(want)) {
            problems.push(`${label}: mprotect alerts ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
            continue;
          }
          for (const a of mprots) {
            assert.equal(a.addr, BigInt(fx.addr), `${label}: addr`);
            assert.equal(a.len, fx.len, `${label}: len`);
            assert.equal(a.prot, to, `${label}: prot`);
            assert.equal(a.wxwatch.prevProt, from, `${label}: prev prot`);
          }
          const hits = findings.filter((f) => f.Event.hostProcessId === fx.pid && f.SigMetadata.ID === 'TRC-104').length;
          if (hits !== (expected === 4 ? 1 : 0)) problems.push(`${label}: ${hits} TRC-104 findings`);
        }
        assert.deepEqual(problems, []);
      }));
  });
});
