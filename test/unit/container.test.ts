import assert from 'node:assert/strict';
import { containerIdFromCgroup } from '../../lib/container';

const ID = 'a'.repeat(32) + '0123456789abcdef'.repeat(2);

describe('container id from cgroup', () => {
  const cases: Array<[string, string, string]> = [
    ['docker, systemd driver', `system.slice/docker-${ID}.scope`, ID],
    ['docker, cgroupfs driver', `docker/${ID}`, ID],
    ['containerd under kubernetes', `kubepods-burstable-pod1234.slice/cri-containerd-${ID}.scope`, ID],
    ['cri-o', `kubepods-besteffort.slice/crio-${ID}.scope`, ID],
    ['podman', `machine.slice/libpod-${ID}.scope`, ID],
    ['a cgroup nested inside a container', `docker-${ID}.scope/init.scope`, ID],
    ['podman conmon is not the container', `machine.slice/libpod-conmon-${ID}.scope`, ''],
    ['a host service', 'system.slice/ssh.service', ''],
    ['the root cgroup', '', ''],
    ['an id of the wrong length', `system.slice/docker-${ID.slice(1)}.scope`, ''],
  ];
  for (const [name, cgroup, id] of cases) {
    it(name, () => assert.equal(containerIdFromCgroup(cgroup), id));
  }
});
