// Prevention (--enforce): in lsm-hook mode with BPF LSM, a W→X by a process in scope fails with
// EACCES and is reported as a blocked finding, while one outside the scope is only reported. On
// a kernel without BPF LSM or trampolines (this project's 6.18 hosts) it refuses to start and
// says what the kernel needs (below what lsm-hook supports, before loading: Debian 11's 5.10 today);
// the guests (Debian 6.1, 6.12, sid) run the real thing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RequirementsError } from '../../lib/privileges';
import { REPO, runCommand, WXFIX } from '../helpers/fixtures';
import { collect, requireRoot, Sensor, settle, waitFor } from '../helpers/sensor';

const PROT_RW = 3;
const PROT_RX = 5;

describe('enforcement (root, real kernel)', function () {
  before(requireRoot);
  this.timeout(120_000);

  it('refuses the W→X of a scoped process (EACCES, reported blocked) and only reports one outside the scope', async function () {
    const dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-enforce-'));
    const loader = path.join(dir, 'loader'); // in the scope by the file it runs (a name can be changed)
    copyFileSync(WXFIX, loader);
    const sensor = new Sensor({ enforce: true, scope: { exes: [loader] } });
    try {
      sensor.start();
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      assert.ok(err instanceof RequirementsError, String(err));
      assert.match((err as Error).message, /enforce needs BPF LSM and BPF trampolines: .*(lsm=|trampolines|verifier|needs )/);
      this.skip(); // not on this kernel: the guests prove it
    }
    try {
      const findings = collect(sensor, 'finding');
      const refused = await runCommand(loader, ['prot', String(PROT_RW), String(PROT_RX)]);
      assert.equal(refused.rc, -1);
      assert.equal(refused.errno, 13, 'EACCES');
      const blocked = await waitFor(findings, (f) => f.Event.hostProcessId === refused.pid);
      assert.equal(blocked.SigMetadata.ID, 'TRC-104');
      assert.equal(blocked.Event.wxwatch.blocked, true);
      assert.equal(blocked.Event.processName, 'loader');

      const py = await runCommand('/usr/bin/python3', [path.join(REPO, 'test', 'fixtures', 'loader.py')]);
      const allowed = await waitFor(findings, (f) => f.Event.hostProcessId === py.pid);
      assert.equal(allowed.Event.wxwatch.blocked, false, 'outside the scope: reported, and it ran');
      await settle(findings);
    } finally {
      await sensor.close();
      rmSync(dir, { recursive: true, force: true });
    }
    // Closing the sensor ends the enforcement: the same loader now succeeds.
    const dir2 = mkdtempSync(path.join(tmpdir(), 'wxwatch-enforce-'));
    try {
      const loader = path.join(dir2, 'loader');
      copyFileSync(WXFIX, loader);
      const after = await runCommand(loader, ['prot', String(PROT_RW), String(PROT_RX)]);
      assert.equal(after.rc, 0);
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  });

  it('npm start -- --enforce --scope exe=loader: the same from the command line (exit 77 where it cannot)', async function () {
    const cli = path.join(REPO, 'dist', 'lib', 'cli.js');
    const dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-enforce-'));
    const loader = path.join(dir, 'loader');
    copyFileSync(WXFIX, loader);
    const child = spawn(process.execPath, [cli, '--enforce', '--scope', `exe=${loader}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit');
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const deadline = Date.now() + 90_000;
    while (!/watching/.test(err) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (child.exitCode !== null || !/watching/.test(err)) {
      const [code] = await exited;
      rmSync(dir, { recursive: true, force: true });
      assert.equal(code, 77, err);
      assert.match(err, /enforce needs BPF LSM and BPF trampolines/);
      this.skip(); // not on this kernel: the guests prove it
    }
    try {
      assert.match(err, /enforcement cannot refuse: brk/, 'what it cannot refuse, said at start');
      const refused = await runCommand(loader, ['prot', String(PROT_RW), String(PROT_RX)]);
      assert.equal(refused.errno, 13, 'EACCES');
      const py = await runCommand('/usr/bin/python3', [path.join(REPO, 'test', 'fixtures', 'loader.py')]);
      const lineOf = async (pid: number) => {
        for (const end = Date.now() + 15_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
          const line = out.split('\n').find((l) => l.includes(`"hostProcessId":${pid},`));
          if (line) return JSON.parse(line);
        }
        throw new Error(`no line for ${pid}: ${err}`);
      };
      assert.equal((await lineOf(refused.pid)).wxwatch.blocked, true);
      assert.equal((await lineOf(py.pid)).wxwatch.blocked, false);
    } finally {
      child.kill('SIGINT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not enforce on everything unless asked: enforce without a scope is refused', () => {
    assert.throws(() => new Sensor({ enforce: true }), /enforce needs a scope/);
    assert.throws(() => new Sensor({ enforce: true, scope: { comms: ['loader'] } }), /rename itself/);
    assert.throws(() => new Sensor({ enforce: 'all', mode: 'tracepoint' }), /needs mode lsm-hook/);
  });
});
