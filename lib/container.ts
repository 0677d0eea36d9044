// Container ids from cgroup names. The kernel records the task's cgroup v2 node as
// "parent/leaf" at event time, so this works even after the container is gone.

// docker and podman (systemd driver), containerd (cri-containerd-…), cri-o (crio-…), or a bare
// id (cgroupfs driver: /docker/<id>, /kubepods/…/<id>). conmon's scope is not the container.
const RUNTIME_SCOPE = /^(?:docker|cri-containerd|crio|libpod)-([0-9a-f]{64})(?:\.scope)?$/;
const BARE_ID = /^([0-9a-f]{64})$/;

const cache = new Map<string, string>();
const CACHE_LIMIT = 4096;

function idFrom(name: string): string | undefined {
  return (RUNTIME_SCOPE.exec(name) ?? BARE_ID.exec(name))?.[1];
}

/** The container id in a "parent/leaf" cgroup name, or '' on the host. */
export function containerIdFromCgroup(cgroup: string): string {
  const hit = cache.get(cgroup);
  if (hit !== undefined) return hit;
  const slash = cgroup.lastIndexOf('/');
  const leaf = cgroup.slice(slash + 1);
  const parent = slash < 0 ? '' : cgroup.slice(0, slash);
  const id = idFrom(leaf) ?? idFrom(parent) ?? '';
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(cgroup, id);
  return id;
}

// Kubernetes pod cgroups: systemd driver "kubepods[-qos]-pod<uid>.slice" (the uid's '-' written
// as '_'), cgroupfs driver "pod<uid>". A uid is a UUID, or 32 hex digits for a static pod.
const POD = /^(?:kubepods(?:-[a-z]+)*-)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32})(?:\.slice)?$/;

const podCache = new Map<string, string>();

/** The Kubernetes pod UID in a "parent/leaf" cgroup name (Tracee's kubernetes.podUID), or ''. */
export function podUidFromCgroup(cgroup: string): string {
  const hit = podCache.get(cgroup);
  if (hit !== undefined) return hit;
  let uid = '';
  for (const name of cgroup.split('/').reverse()) {
    const m = POD.exec(name);
    if (m) {
      uid = m[1].replaceAll('_', '-');
      break;
    }
  }
  if (podCache.size >= CACHE_LIMIT) podCache.clear();
  podCache.set(cgroup, uid);
  return uid;
}
