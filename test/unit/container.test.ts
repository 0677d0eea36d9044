import assert from 'node:assert/strict';
import { containerIdFromCgroup, podUidFromCgroup } from '../../lib/container';

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

describe('pod UID from cgroup', () => {
  const UID = '3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b';
  const UNDERSCORED = UID.replaceAll('-', '_');
  const cases: Array<[string, string, string]> = [
    ['systemd driver, burstable', `kubepods-burstable-pod${UNDERSCORED}.slice/cri-containerd-${ID}.scope`, UID],
    ['systemd driver, besteffort, cri-o', `kubepods-besteffort-pod${UNDERSCORED}.slice/crio-${ID}.scope`, UID],
    ['systemd driver, guaranteed', `kubepods-pod${UNDERSCORED}.slice/cri-containerd-${ID}.scope`, UID],
    ['cgroupfs driver', `pod${UID}/${ID}`, UID],
    ['the pod slice itself', `kubepods-burstable.slice/kubepods-burstable-pod${UNDERSCORED}.slice`, UID],
    ['a static pod (hash uid)', `kubepods-burstable-pod${'ab'.repeat(16)}.slice/cri-containerd-${ID}.scope`, 'ab'.repeat(16)],
    ['docker outside kubernetes', `system.slice/docker-${ID}.scope`, ''],
    ['the qos slice', 'kubepods.slice/kubepods-burstable.slice', ''],
    ['a host service', 'system.slice/ssh.service', ''],
    ['a truncated uid', `kubepods-pod${UNDERSCORED.slice(1)}.slice/x`, ''],
  ];
  for (const [name, cgroup, uid] of cases) {
    it(name, () => assert.equal(podUidFromCgroup(cgroup), uid));
  }
});
