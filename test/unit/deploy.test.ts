// The deployment files: what can be checked without systemd running, Docker or a cluster.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from '../helpers/fixtures';

const DEPLOY = path.join(REPO, 'deploy');
const read = (name: string) => readFileSync(path.join(DEPLOY, name), 'utf8');

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(path.join(dir, cmd)));
}

describe('deploy/', () => {
  describe('wxwatch.service', () => {
    it('passes systemd-analyze verify', function () {
      if (!onPath('systemd-analyze')) this.skip();
      const res = spawnSync('systemd-analyze', ['verify', path.join(DEPLOY, 'wxwatch.service')], { encoding: 'utf8' });
      assert.equal(res.status, 0, res.stderr);
      assert.equal(res.stderr.trim(), '', 'no warnings');
    });

    it('rates as hardened by systemd-analyze security (exposure below 4)', function () {
      if (!onPath('systemd-analyze')) this.skip();
      const res = spawnSync('systemd-analyze', ['security', '--offline=yes', path.join(DEPLOY, 'wxwatch.service')], { encoding: 'utf8' });
      if (res.status !== 0 && /offline/.test(res.stderr)) this.skip(); // systemd < 250
      const m = /Overall exposure level for wxwatch\.service: ([\d.]+)/.exec(res.stdout);
      assert.ok(m, res.stdout + res.stderr);
      assert.ok(Number(m[1]) < 4, `exposure ${m[1]}`);
    });

    it('bounds capabilities to BPF, PERFMON and SYS_ADMIN and restarts on failure', () => {
      const unit = read('wxwatch.service');
      assert.match(unit, /^CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_SYS_ADMIN$/m);
      for (const line of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'Restart=on-failure', 'RestartPreventExitStatus=2 77']) {
        assert.match(unit, new RegExp(`^${line}$`, 'm'));
      }
      assert.doesNotMatch(unit, /^MemoryDenyWriteExecute=yes/m, "V8's JIT needs W->X");
    });
  });

  describe('daemonset.yaml', () => {
    const text = read('daemonset.yaml');

    it('parses as YAML (when a YAML parser is at hand) into a Namespace and a DaemonSet', function () {
      let yaml: { loadAll(s: string): unknown[] };
      try {
        yaml = require('js-yaml'); // mocha's own dependency; not a dependency of this package
      } catch {
        this.skip();
      }
      const docs = yaml.loadAll(text) as Array<{ kind: string; spec?: any }>;
      assert.deepEqual(docs.map((d) => d.kind), ['Namespace', 'DaemonSet']);
      const pod = docs[1].spec.template.spec;
      assert.equal(pod.hostPID, true);
      const c = pod.containers[0];
      assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'], add: ['BPF', 'PERFMON', 'SYS_ADMIN'] });
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.equal(c.ports[0].containerPort, 9464);
      assert.ok(c.resources.limits.memory && c.resources.limits.cpu);
      const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.mountPath, m.readOnly]));
      assert.deepEqual(mounts, { '/sys/kernel/btf': true, '/sys/kernel/tracing': true, '/sys/fs/cgroup': true });
      const paths = pod.volumes.map((v: any) => v.hostPath.path).sort();
      assert.deepEqual(paths, ['/sys/fs/cgroup', '/sys/kernel/btf', '/sys/kernel/tracing']);
    });

    it('has the host PID namespace, the metrics port and resource limits', () => {
      assert.match(text, /^\s+hostPID: true$/m);
      assert.match(text, /containerPort: 9464/);
      assert.match(text, /args: \["--metrics", "0\.0\.0\.0:9464"\]/);
      assert.match(text, /limits:\n\s+cpu: \S+\n\s+memory: \S+/);
    });
  });

  it('Dockerfile: Debian 12 with Node 20, installs the packed tarball in the runtime image', () => {
    const text = read('Dockerfile');
    assert.match(text, /^FROM node:20-bookworm AS build$/m);
    assert.match(text, /^FROM node:20-bookworm-slim$/m);
    assert.match(text, /npm pack --pack-destination \/out/);
    assert.match(text, /npm install -g .*\/tmp\/wxwatch-\*\.tgz/);
    assert.match(text, /^ENTRYPOINT \["wxwatch"\]$/m);
  });
});
