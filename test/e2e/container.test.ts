// Container context from the cgroup the kernel recorded: a process moved into a cgroup named
// the way docker names one is reported with that container's id; a host process with none.
import assert from 'node:assert/strict';
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { detectionObject } from '../../lib/output/json';
import { runFixture } from '../helpers/fixtures';
import { cgroup2Mount } from '../helpers/procs';
import { collect, requireRoot, waitFor, withSensor } from '../helpers/sensor';

describe('container context (root, real kernel)', function () {
  before(requireRoot);

  it('reports the container id of a process in a docker-named cgroup, and none on the host', async function () {
    const mount = cgroup2Mount();
    if (!mount) this.skip(); // no cgroup v2 hierarchy: no container ids to find
    const id = randomBytes(32).toString('hex');
    const dir = path.join(mount!, `docker-${id}.scope`);
    mkdirSync(dir);
    try {
      await withSensor({}, async (sensor) => {
        const findings = collect(sensor, 'finding');
        const inside = await runFixture(['cgroup-w2x', dir]);
        const host = await runFixture(['w2x']);
        const f = await waitFor(findings, (x) => x.Event.hostProcessId === inside.pid);
        assert.equal(f.Event.containerId, id);
        assert.deepEqual(f.Event.container, { id });
        assert.equal(f.Event.cgroupId, statSync(dir, { bigint: true }).ino);
        assert.equal(f.Event.wxwatch.cgroup, `docker-${id}.scope`);
        const detection = detectionObject(f);
        assert.equal(detection.containerId, id);
        const h = await waitFor(findings, (x) => x.Event.hostProcessId === host.pid);
        assert.equal(h.Event.containerId, '');
        assert.deepEqual(h.Event.container, {});
      });
    } finally {
      rmdirSync(dir);
    }
  });
});
