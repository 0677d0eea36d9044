// SPDX-License-Identifier: GPL-2.0
/* wxwatch kernel side: judges memory-protection changes the way Tracee's mem_prot_alert does,
 * but on the call's outcome. On syscall enter (only when EXEC is requested) it records each VMA's
 * flags before the change; on exit, if the call succeeded, it emits one record per alerting VMA
 * into the ring buffer. */
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "kernel.bpf.h"
#include "wxwatch.h"

char LICENSE[] SEC("license") = "GPL";

#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#define VM_WRITE 0x2ULL
#define VM_EXEC 0x4ULL
#define VM_GROWSDOWN 0x100ULL
#define MAP_ANONYMOUS 0x20
#define PAGE_SIZE 4096ULL
#define MAX_ERRNO 4095
#define PATH_DEPTH 48
#define NAME_MAX 255
#define RECORD_BUF 16384 /* power of two above WX_RECORD_MAX_SIZE: offsets are masked with it */
#define MNT_NS_INTERNAL ((void *)-22L) /* ERR_PTR(-EINVAL): kern_mount()'s internal mounts */

/* Set between open and load; the verifier prunes what they switch off. */
const volatile __u32 self_tgid = 0;     /* the embedding process: its own JIT never feeds back */
const volatile __u8 emit_denied = 0;    /* also emit calls that failed (WX_F_DENIED) */
const volatile __u64 wakeup_bytes = 0;  /* wake the reader early once this much is queued */
/* Tracepoint mode walks the range's VMAs at syscall enter; lsm-hook mode leaves that to the
 * security_file_mprotect hook, which the kernel calls once per VMA it is about to change. */
const volatile __u8 walk_vmas = 1;
/* One record per transition per process image; off restores one per transition (Tracee). */
const volatile __u8 dedup = 1;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* resized at load */
} wx_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WX_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} wx_counters SEC(".maps");

struct wx_vma_state {
	__u64 start;
	__u64 end;
	__u64 flags;
	__u64 file; /* struct file *: the VMA holds a reference across the call */
	__u32 alert;
	__u32 _pad;
};

/* What a thread's syscall enter leaves for its exit. */
struct wx_pending {
	__u64 addr;
	__u64 len;
	__s32 prot;
	__u32 map_flags;
	__u16 syscall;
	__u16 nvmas;
	__u32 truncated;
	/* The thread's start time: an entry left by a thread killed inside the call must not be
	 * taken for its own by a later thread that reuses the tid. */
	__u64 thread_start;
	struct wx_vma_state vmas[WX_MAX_VMAS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* host tid */
	__type(value, struct wx_pending);
} wx_pending SEC(".maps");

/* Executable paths by process image: resolving one walks every dentry up to the root, the
 * dearest step of a record. An image's executable does not change (short of the rare
 * PR_SET_MM_EXE_FILE), so its path is resolved once. Longer paths are resolved every time. */
#define EXE_CACHE_LEN 512

struct wx_image_key {
	__u64 start_boot_ns;
	__u64 exec_id;
	__u32 tgid;
	__u32 _pad;
};

struct wx_exe_path {
	__u32 len;
	char path[EXE_CACHE_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct wx_image_key);
	__type(value, struct wx_exe_path);
} wx_exe_cache SEC(".maps");

/* Per-CPU work space: too big for the 512-byte BPF stack. */
struct wx_scratch {
	struct wx_pending pending;
	char record[RECORD_BUF + WX_PATH_MAX];
	char path[2 * WX_PATH_MAX];
	struct wx_exe_path exe;
	/* resolve_path's write offset: kept in the map, not on the stack, so that the verifier sees
	 * an unknown value each step and checks the step once instead of once per iteration. */
	__u32 path_off;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wx_scratch);
} wx_scratch SEC(".maps");

/* Dedup: a transition is the same when alert, outcome, region kind and backing file are. The
 * process image is (tgid, start time, exec id): a reused pid or an exec makes a new key, so
 * nothing needs clearing; dead processes' keys age out of the LRU. Losing a key to eviction
 * only repeats a finding. */
struct wx_dedup_key {
	__u64 start_boot_ns;
	__u64 exec_id;
	__u64 inode;
	__u32 tgid;
	__u32 dev;
	__u32 alert;
	__u8 region;
	__u8 denied;
	__u16 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct wx_dedup_key);
	__type(value, __u8);
} wx_dedup SEC(".maps");

#define FILTER_MAP(name, key_type)                                   \
	struct {                                                     \
		__uint(type, BPF_MAP_TYPE_HASH);                     \
		__uint(max_entries, WX_FILTER_MAX_ENTRIES);          \
		__type(key, key_type);                               \
		__type(value, __u8);                                 \
	} name SEC(".maps")

FILTER_MAP(wx_filter_pid, __u32);
FILTER_MAP(wx_filter_uid, __u32);
FILTER_MAP(wx_filter_comm, char[WX_COMM_LEN]);
FILTER_MAP(wx_filter_cgroup, __u64);
FILTER_MAP(wx_filter_exe, struct wx_exe_key);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wx_filter_config);
} wx_filter_config SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&wx_counters, &which);
	if (c)
		*c += 1;
}

static __always_inline struct wx_scratch *scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&wx_scratch, &zero);
}

/* Tracee's mem_prot_alert order: 2, then 3, then 4, a later match overwriting an earlier one. */
static __always_inline __u32 judge_mprotect(__u64 prev_flags, __s32 prot)
{
	__u32 alert = WX_ALERT_NONE;
	if (!(prot & PROT_EXEC))
		return alert;
	if (!(prev_flags & VM_EXEC))
		alert = WX_ALERT_MPROT_X_ADD;
	if ((prev_flags & VM_EXEC) && !(prev_flags & VM_WRITE) && (prot & PROT_WRITE))
		alert = WX_ALERT_MPROT_W_ADD;
	if ((prev_flags & VM_WRITE) && !(prot & PROT_WRITE))
		alert = WX_ALERT_MPROT_W_REM;
	return alert;
}

struct vma_view {
	__u64 start;
	__u64 end;
	__u64 flags;
	struct file *file;
};

static long read_vma(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_view *v = data;
	v->start = vma->vm_start;
	v->end = vma->vm_end;
	v->flags = vma->vm_flags;
	v->file = vma->vm_file;
	return 0;
}

static __always_inline int find_vma(__u64 addr, struct vma_view *v)
{
	struct task_struct *task = bpf_get_current_task_btf();
	return bpf_find_vma(task, addr, read_vma, v, 0);
}

/* Applies one kind's list: 1 if the process is filtered by it. */
static __always_inline int filtered_by(struct wx_filter_config *cfg, __u32 kind, __u8 *action)
{
	if (action && *action == WX_ACT_IGNORE)
		return 1;
	return (cfg->scope_mask & (1u << kind)) && !(action && *action == WX_ACT_WATCH);
}

/* The cgroup list matches the task's cgroup or any ancestor: a container's scope covers what
 * nests inside it. Returns the action of the nearest listed ancestor, if any. */
static __always_inline __u8 *cgroup_action(void)
{
	for (int level = WX_CGROUP_MAX_DEPTH - 1; level >= 0; level--) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);
		if (!id)
			continue;
		__u8 *action = bpf_map_lookup_elem(&wx_filter_cgroup, &id);
		if (action)
			return action;
	}
	return 0;
}

/* Allowlists and scopes, checked before any VMA is judged: a filtered process costs a few map
 * lookups per EXEC-requesting call and nothing downstream. */
static __always_inline int filtered(__u32 tgid)
{
	__u32 zero = 0;
	struct wx_filter_config *cfg = bpf_map_lookup_elem(&wx_filter_config, &zero);
	if (!cfg || !cfg->active_mask)
		return 0;
	__u32 active = cfg->active_mask;
	struct task_struct *task = bpf_get_current_task_btf();
	if ((active & (1u << WX_FILTER_PID)) &&
	    filtered_by(cfg, WX_FILTER_PID, bpf_map_lookup_elem(&wx_filter_pid, &tgid)))
		return 1;
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	if ((active & (1u << WX_FILTER_UID)) &&
	    filtered_by(cfg, WX_FILTER_UID, bpf_map_lookup_elem(&wx_filter_uid, &uid)))
		return 1;
	if (active & (1u << WX_FILTER_COMM)) {
		char comm[WX_COMM_LEN] = {};
		bpf_get_current_comm(comm, sizeof(comm));
		if (filtered_by(cfg, WX_FILTER_COMM, bpf_map_lookup_elem(&wx_filter_comm, comm)))
			return 1;
	}
	if ((active & (1u << WX_FILTER_CGROUP)) && filtered_by(cfg, WX_FILTER_CGROUP, cgroup_action()))
		return 1;
	if (active & (1u << WX_FILTER_EXE)) {
		struct inode *inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
		struct wx_exe_key key = {
			.dev = BPF_CORE_READ(inode, i_sb, s_dev),
			.inode = BPF_CORE_READ(inode, i_ino),
		};
		if (filtered_by(cfg, WX_FILTER_EXE, bpf_map_lookup_elem(&wx_filter_exe, &key)))
			return 1;
	}
	return 0;
}

/* A filtered call counts once as seen and once as filtered, so that the books balance. */
static __always_inline int skip_filtered(__u32 tgid)
{
	if (!filtered(tgid))
		return 0;
	count(WX_CNT_SEEN);
	count(WX_CNT_FILTERED);
	return 1;
}

static __always_inline int on_mprotect_enter(__u64 addr, __u64 len, __s32 prot, __u16 syscall)
{
	/* No alert is possible without EXEC: everything else leaves at the first test. */
	if (!(prot & PROT_EXEC))
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)(id >> 32) == self_tgid || skip_filtered(id >> 32))
		return 0;

	struct wx_scratch *s = scratch();
	if (!s)
		return 0;
	struct wx_pending *p = &s->pending;
	p->addr = addr;
	p->len = len;
	p->prot = prot;
	p->map_flags = 0;
	p->syscall = syscall;
	p->nvmas = 0;
	p->truncated = 0;
	p->thread_start = bpf_get_current_task_btf()->start_boottime;
	__u32 tid = (__u32)id;
	if (!walk_vmas) {
		if (bpf_map_update_elem(&wx_pending, &tid, p, BPF_ANY))
			count(WX_CNT_NO_STATE);
		return 0;
	}

	__u64 end = addr + ((len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1));
	__u64 cur = addr;
	struct vma_view v = {};
	__u16 n = 0;
	for (int i = 0; i < WX_MAX_VMAS && cur < end; i++) {
		if (find_vma(cur, &v))
			break; /* a hole: the call fails with ENOMEM */
		__u32 alert = judge_mprotect(v.flags, prot);
		if (alert && n < WX_MAX_VMAS) {
			p->vmas[n].start = v.start;
			p->vmas[n].end = v.end;
			p->vmas[n].flags = v.flags;
			p->vmas[n].file = (__u64)v.file;
			p->vmas[n].alert = alert;
			n++;
		}
		cur = v.end;
	}
	if (cur < end && !find_vma(cur, &v))
		count(WX_CNT_VMA_TRUNCATED);
	if (!n)
		return 0;
	p->nvmas = n;
	if (bpf_map_update_elem(&wx_pending, &tid, p, BPF_ANY))
		count(WX_CNT_NO_STATE);
	return 0;
}

static __always_inline int on_mmap_enter(__u64 len, __s32 prot, __u32 map_flags)
{
	if ((prot & (PROT_WRITE | PROT_EXEC)) != (PROT_WRITE | PROT_EXEC))
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)(id >> 32) == self_tgid || skip_filtered(id >> 32))
		return 0;
	struct wx_scratch *s = scratch();
	if (!s)
		return 0;
	struct wx_pending *p = &s->pending;
	p->addr = 0;
	p->len = len;
	p->prot = prot;
	p->map_flags = map_flags;
	p->syscall = WX_SYS_MMAP;
	p->nvmas = 1;
	p->truncated = 0;
	p->thread_start = bpf_get_current_task_btf()->start_boottime;
	p->vmas[0].alert = WX_ALERT_MMAP_W_X;
	p->vmas[0].flags = 0;
	__u32 tid = (__u32)id;
	if (bpf_map_update_elem(&wx_pending, &tid, p, BPF_ANY))
		count(WX_CNT_NO_STATE);
	return 0;
}

/* lsm-hook mode: one call per VMA, with the flags the kernel itself is judging. */
static __always_inline int on_file_mprotect(__u64 start, __u64 end, __u64 flags, struct file *file,
					    __s32 reqprot)
{
	if (!(reqprot & PROT_EXEC))
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct wx_pending *p = bpf_map_lookup_elem(&wx_pending, &tid);
	if (!p) /* not a call we follow: our own process, or no EXEC requested */
		return 0;
	__u32 alert = judge_mprotect(flags, reqprot);
	if (!alert)
		return 0;
	__u64 n = p->nvmas;
	if (n >= WX_MAX_VMAS) {
		if (!p->truncated++)
			count(WX_CNT_VMA_TRUNCATED);
		return 0;
	}
	asm volatile("%[n] &= 7" : [n] "+r"(n));
	p->vmas[n].start = start;
	p->vmas[n].end = end;
	p->vmas[n].flags = flags;
	p->vmas[n].file = (__u64)file;
	p->vmas[n].alert = alert;
	p->nvmas = n + 1;
	return 0;
}

static __always_inline struct mount *real_mount(struct vfsmount *vfsmnt)
{
	return (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
}

struct path_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
};

/* One step of resolve_path: one dentry, or one crossing to a parent mount. */
static long path_step(__u32 i, void *data)
{
	struct path_walk *w = data;
	struct wx_scratch *s = scratch();
	if (!s)
		return 1;
	/* Locals, not w->...: BPF_CORE_READ would relocate the access to our own struct too. */
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	bool last = false;
	if (dentry == mnt_root) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
		if (mnt == up)
			return 1; /* the namespace's root */
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		w->vfsmnt = (void *)up + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	if (dentry == parent) {
		/* A dentry of a pseudo filesystem (memfd, anonymous shared memory): as in d_path, its
		 * own name is the whole path. */
		if (s->path_off != WX_PATH_MAX)
			return 1;
		last = true;
	}
	__u32 len = BPF_CORE_READ(dentry, d_name.len);
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	if (len > NAME_MAX)
		len = NAME_MAX;
	__u32 off = s->path_off;
	if (off < len + 2 || off > WX_PATH_MAX)
		return 1; /* no room left: keep the components we have */
	off -= len;
	bpf_probe_read_kernel(&s->path[off & (WX_PATH_MAX - 1)], len & NAME_MAX, name);
	off -= 1;
	s->path[off & (WX_PATH_MAX - 1)] = '/';
	s->path_off = off;
	w->dentry = parent;
	return last;
}

/* Writes the full path of *path backwards so that it ends at s->path[WX_PATH_MAX]; returns its
 * length. Walks dentries up to each mount's root, then crosses to the mount point, as d_path
 * does. A path deeper than PATH_DEPTH components keeps its last components. */
static __always_inline __u32 resolve_path(struct wx_scratch *s, struct path *path)
{
	struct path_walk w = {
		.dentry = BPF_CORE_READ(path, dentry),
		.vfsmnt = BPF_CORE_READ(path, mnt),
	};
	w.mnt = real_mount(w.vfsmnt);
	s->path_off = WX_PATH_MAX;
	bpf_loop(PATH_DEPTH, path_step, &w, 0);
	__u32 off = s->path_off;
	if (off >= WX_PATH_MAX) {
		off = WX_PATH_MAX - 1;
		s->path[off] = '/';
	}
	return WX_PATH_MAX - off;
}

static __always_inline __u64 inode_ctime_ns(struct inode *inode)
{
	if (bpf_core_field_exists(struct inode___ctime_split, i_ctime_sec)) {
		struct inode___ctime_split *i = (void *)inode;
		/* Bit 31 of the nanoseconds flags a multigrain timestamp as queried (6.13+). */
		__u32 nsec = BPF_CORE_READ(i, i_ctime_nsec) & 0x7fffffff;
		return BPF_CORE_READ(i, i_ctime_sec) * 1000000000ULL + nsec;
	}
	if (bpf_core_field_exists(struct inode___ctime_private, __i_ctime)) {
		struct inode___ctime_private *i = (void *)inode;
		return BPF_CORE_READ(i, __i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(i, __i_ctime.tv_nsec);
	}
	struct inode___ctime_plain *i = (void *)inode;
	return BPF_CORE_READ(i, i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(i, i_ctime.tv_nsec);
}

/* Copies a path resolved into s->path onto the record at byte offset at; returns its length. */
static __always_inline __u32 append_path(struct wx_scratch *s, __u32 at, struct path *path)
{
	__u32 len = resolve_path(s, path);
	if (len > WX_PATH_MAX - 1)
		len = WX_PATH_MAX - 1;
	bpf_probe_read_kernel(&s->record[at & (RECORD_BUF - 1)], len & (WX_PATH_MAX - 1),
			      &s->path[(WX_PATH_MAX - len) & (WX_PATH_MAX - 1)]);
	return len;
}

static __always_inline int is_memfd(struct file *file)
{
	struct vfsmount *vfsmnt = BPF_CORE_READ(file, f_path.mnt);
	if (BPF_CORE_READ(real_mount(vfsmnt), mnt_ns) != MNT_NS_INTERNAL)
		return 0;
	char prefix[6] = {};
	bpf_probe_read_kernel(prefix, sizeof(prefix), BPF_CORE_READ(file, f_path.dentry, d_name.name));
	return prefix[0] == 'm' && prefix[1] == 'e' && prefix[2] == 'm' && prefix[3] == 'f' &&
	       prefix[4] == 'd' && prefix[5] == ':';
}

/* The pid number of p as seen from the namespace at level, or 0 if p is not visible there. */
static __always_inline __u32 pid_nr_at(struct pid *p, unsigned int level, struct pid_namespace *ns)
{
	if (!p || BPF_CORE_READ(p, level) < level)
		return 0;
	struct upid *u = (void *)p + bpf_core_field_offset(struct pid, numbers) +
			 level * bpf_core_type_size(struct upid);
	if (BPF_CORE_READ(u, ns) != ns)
		return 0;
	return BPF_CORE_READ(u, nr);
}

/* task is the BTF pointer from bpf_get_current_task_btf(): plain field accesses on it (and on
 * the pointers they lead to) compile to direct loads the kernel guards, far cheaper than a
 * bpf_probe_read_kernel() call per field. */
static __always_inline void fill_task(struct wx_record *r, struct task_struct *task)
{
	struct task_struct *leader = task->group_leader;
	struct task_struct *parent = task->real_parent;
	r->host_pid = task->tgid;
	r->host_tid = task->pid;
	r->host_ppid = parent->tgid;
	r->thread_start_boot_ns = task->start_boottime;
	r->leader_start_boot_ns = leader->start_boottime;
	r->parent_start_boot_ns = parent->group_leader->start_boottime;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	r->uid = (__u32)bpf_get_current_uid_gid();
	r->cgroup_id = bpf_get_current_cgroup_id();
	r->cpu = bpf_get_smp_processor_id();
	r->mnt_ns = task->nsproxy->mnt_ns->ns.inum;

	struct pid *tp = task->thread_pid;
	unsigned int level = tp->level;
	/* numbers[level]: a variable index, so computed and read the slower way */
	struct upid *u = (void *)tp + bpf_core_field_offset(struct pid, numbers) +
			 level * bpf_core_type_size(struct upid);
	struct pid_namespace *ns = BPF_CORE_READ(u, ns);
	r->pid_ns = BPF_CORE_READ(ns, ns.inum);
	r->ns_tid = BPF_CORE_READ(u, nr);
	r->ns_pid = pid_nr_at(leader->thread_pid, level, ns);
	r->ns_ppid = pid_nr_at(parent->group_leader->thread_pid, level, ns);
}

static __always_inline void fill_region(struct wx_record *r, struct task_struct *task, struct vma_view *v)
{
	struct file *file = v->file;
	if (file) {
		struct inode *inode = BPF_CORE_READ(file, f_inode);
		r->flags |= WX_F_HAS_FILE;
		r->dev = BPF_CORE_READ(inode, i_sb, s_dev);
		r->inode = BPF_CORE_READ(inode, i_ino);
		r->ctime_ns = inode_ctime_ns(inode);
		if (BPF_CORE_READ(inode, i_nlink) == 0)
			r->flags |= WX_F_FILE_DELETED;
		r->region = is_memfd(file) ? WX_REGION_MEMFD : WX_REGION_FILE;
		return;
	}
	struct mm_struct *mm = task->mm;
	__u64 start_brk = mm->start_brk, brk = mm->brk, start_stack = mm->start_stack;
	if (v->start < brk && v->end > start_brk)
		r->region = WX_REGION_HEAP;
	else if ((v->flags & VM_GROWSDOWN) || (v->start <= start_stack && start_stack < v->end))
		r->region = WX_REGION_STACK;
	else
		r->region = WX_REGION_ANON;
}

static __always_inline struct kernfs_node *kernfs_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___parent_new, __parent))
		return BPF_CORE_READ((struct kernfs_node___parent_new *)kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___parent_old *)kn, parent);
}

/* Appends "parent/leaf" of the task's cgroup v2 node at byte offset at; returns its length.
 * Two levels: enough for a container runtime's scope even when the container nests one more. */
static __always_inline __u32 append_cgroup(struct wx_scratch *s, __u32 at, struct task_struct *task)
{
	struct kernfs_node *leaf = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	struct kernfs_node *parent = kernfs_parent(leaf);
	__u32 len = 0;
	if (parent && kernfs_parent(parent)) { /* not the root, whose name is "/" */
		long n = bpf_probe_read_kernel_str(&s->record[at & (RECORD_BUF - 1)], WX_CGROUP_NAME_MAX,
						   BPF_CORE_READ(parent, name));
		if (n > 1) {
			len = n - 1;
			s->record[(at + len) & (RECORD_BUF - 1)] = '/';
			len++;
		}
	}
	if (!parent)
		return 0;
	long n = bpf_probe_read_kernel_str(&s->record[(at + len) & (RECORD_BUF - 1)], WX_CGROUP_NAME_MAX,
					   BPF_CORE_READ(leaf, name));
	if (n > 1)
		len += n - 1;
	return len;
}

/* Clamps a length for the verifier in a register it cannot lose track of (see emit_vma). */
static __always_inline __u64 exe_cache_len(__u64 len)
{
	asm volatile("%[len] &= 511" : [len] "+r"(len));
	return len;
}

/* Appends the executable's path at byte offset at, from the cache when it has it. */
static __always_inline __u32 append_exe(struct wx_scratch *s, __u32 at, struct task_struct *task,
					struct wx_image_key *image)
{
	struct wx_exe_path *cached = bpf_map_lookup_elem(&wx_exe_cache, image);
	if (cached) {
		__u64 len = exe_cache_len(cached->len);
		bpf_probe_read_kernel(&s->record[at & (RECORD_BUF - 1)], len, cached->path);
		return len;
	}
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	if (!exe)
		return 0;
	struct path ep = BPF_CORE_READ(exe, f_path);
	__u32 len = append_path(s, at, &ep);
	if (len < EXE_CACHE_LEN) {
		__u64 n = exe_cache_len(len);
		s->exe.len = n;
		bpf_probe_read_kernel(s->exe.path, n, &s->record[at & (RECORD_BUF - 1)]);
		bpf_map_update_elem(&wx_exe_cache, image, &s->exe, BPF_ANY);
	}
	return len;
}

/* Builds one record in scratch and copies it into the ring buffer. */
static __always_inline void emit(struct wx_scratch *s, struct wx_pending *p, struct vma_view *v,
				 __u32 alert, __s64 ret)
{
	struct wx_record *r = (void *)s->record;
	struct task_struct *task = bpf_get_current_task_btf();
	__builtin_memset(r, 0, sizeof(*r));
	count(WX_CNT_SEEN);

	/* First what dedup needs, so that a suppressed alert costs no more than that. */
	fill_region(r, task, v);
	struct wx_image_key image = {
		.start_boot_ns = task->group_leader->start_boottime,
		.exec_id = task->self_exec_id,
		.tgid = task->tgid,
	};
	struct wx_dedup_key key = {};
	if (dedup) {
		key.start_boot_ns = image.start_boot_ns;
		key.exec_id = image.exec_id;
		key.tgid = image.tgid;
		key.alert = alert;
		key.region = r->region;
		key.denied = ret < 0;
		key.dev = r->dev;
		key.inode = r->inode;
		if (bpf_map_lookup_elem(&wx_dedup, &key)) {
			count(WX_CNT_SUPPRESSED);
			return;
		}
	}

	r->alert = alert;
	r->ts_boot_ns = bpf_ktime_get_boot_ns();
	r->addr = p->syscall == WX_SYS_MMAP ? v->start : p->addr;
	r->len = p->len;
	r->prot = p->prot;
	r->prev_vm_flags = v->flags;
	r->vma_start = v->start;
	r->vma_end = v->end;
	r->ret = ret;
	r->syscall = p->syscall;
	if (ret < 0)
		r->flags |= WX_F_DENIED;
	fill_task(r, task);

	__u32 at = WX_RECORD_FIXED_SIZE;
	const char *node = BPF_CORE_READ(task, nsproxy, uts_ns, name.nodename);
	long n = bpf_probe_read_kernel_str(&s->record[at], WX_UTS_LEN, node);
	r->uts_len = n > 1 ? n - 1 : 0;
	at += r->uts_len;

	struct file *file = v->file;
	if (file) {
		struct path fp = BPF_CORE_READ(file, f_path);
		r->path_len = append_path(s, at, &fp);
		at += r->path_len;
	}
	r->exe_len = append_exe(s, at, task, &image);
	at += r->exe_len;

	r->cgroup_len = append_cgroup(s, at, task);
	at += r->cgroup_len;

	__u32 size = (at + WX_RECORD_ALIGN - 1) & ~(WX_RECORD_ALIGN - 1);
	if (size > WX_RECORD_MAX_SIZE)
		size = WX_RECORD_MAX_SIZE;
	r->size = at;
	/* Submit without waking the reader (it drains on a short timer) unless the ring is filling. */
	__u64 queued = bpf_ringbuf_query(&wx_events, BPF_RB_AVAIL_DATA);
	__u64 wake = queued + size >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&wx_events, r, size, wake)) {
		count(WX_CNT_LOST);
		return; /* not remembered: the next occurrence is delivered */
	}
	if (dedup) {
		__u8 one = 1;
		bpf_map_update_elem(&wx_dedup, &key, &one, BPF_ANY);
	}
}

struct vma_emit {
	struct wx_pending *p;
	__s64 ret;
};

/* Emits the i-th VMA judged at enter. */
static long emit_vma(__u32 i, void *data)
{
	struct vma_emit *e = data;
	struct wx_pending *p = e->p;
	struct wx_scratch *s = scratch();
	if (!s || i >= WX_MAX_VMAS)
		return 1;
	/* Mask in asm: clang drops a plain mask after the test, and the verifier loses the bound on
	 * the register it indexes with. */
	__u64 k = i;
	asm volatile("%[k] &= 7" : [k] "+r"(k));
	struct vma_view v = {
		.start = p->vmas[k].start,
		.end = p->vmas[k].end,
		.flags = p->vmas[k].flags,
		.file = (struct file *)p->vmas[k].file,
	};
	emit(s, p, &v, p->vmas[k].alert, e->ret);
	return 0;
}

static __always_inline int on_exit(__s64 ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct wx_pending *p = bpf_map_lookup_elem(&wx_pending, &tid);
	if (!p)
		return 0;
	struct wx_scratch *s = scratch();
	if (!s || p->thread_start != bpf_get_current_task_btf()->start_boottime)
		goto out;

	if (p->syscall == WX_SYS_MMAP) {
		/* mmap returns the address, or -errno in the top page. */
		int failed = (__u64)ret >= (__u64)-MAX_ERRNO;
		if (failed && !emit_denied)
			goto out;
		struct vma_view v = {};
		if (!failed)
			find_vma((__u64)ret, &v);
		v.flags = 0; /* a new mapping has no previous protection */
		/* MAP_ANONYMOUS has no file, whatever fd was passed (shared anon maps are shmem). */
		if (p->map_flags & MAP_ANONYMOUS)
			v.file = 0;
		emit(s, p, &v, WX_ALERT_MMAP_W_X, failed ? ret : 0);
		goto out;
	}

	if (ret < 0 && !emit_denied)
		goto out;
	struct vma_emit e = { .p = p, .ret = ret };
	bpf_loop(p->nvmas < WX_MAX_VMAS ? p->nvmas : WX_MAX_VMAS, emit_vma, &e, 0);
out:
	bpf_map_delete_elem(&wx_pending, &tid);
	return 0;
}

SEC("tp/syscalls/sys_enter_mprotect")
int tp__sys_enter_mprotect(struct wx_sys_enter_ctx *ctx)
{
	return on_mprotect_enter(ctx->args[0], ctx->args[1], (__s32)ctx->args[2], WX_SYS_MPROTECT);
}

SEC("tp/syscalls/sys_exit_mprotect")
int tp__sys_exit_mprotect(struct wx_sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tp/syscalls/sys_enter_pkey_mprotect")
int tp__sys_enter_pkey_mprotect(struct wx_sys_enter_ctx *ctx)
{
	return on_mprotect_enter(ctx->args[0], ctx->args[1], (__s32)ctx->args[2], WX_SYS_PKEY_MPROTECT);
}

SEC("tp/syscalls/sys_exit_pkey_mprotect")
int tp__sys_exit_pkey_mprotect(struct wx_sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret);
}

SEC("fentry/security_file_mprotect")
int BPF_PROG(fentry__security_file_mprotect, struct vm_area_struct *vma, unsigned long reqprot, unsigned long prot)
{
	return on_file_mprotect(vma->vm_start, vma->vm_end, vma->vm_flags, vma->vm_file, (__s32)reqprot);
}

SEC("kprobe/security_file_mprotect")
int BPF_KPROBE(kprobe__security_file_mprotect, struct vm_area_struct *vma, unsigned long reqprot)
{
	return on_file_mprotect(BPF_CORE_READ(vma, vm_start), BPF_CORE_READ(vma, vm_end),
				BPF_CORE_READ(vma, vm_flags), BPF_CORE_READ(vma, vm_file), (__s32)reqprot);
}

SEC("tp/syscalls/sys_enter_mmap")
int tp__sys_enter_mmap(struct wx_sys_enter_ctx *ctx)
{
	return on_mmap_enter(ctx->args[1], (__s32)ctx->args[2], (__u32)ctx->args[3]);
}

SEC("tp/syscalls/sys_exit_mmap")
int tp__sys_exit_mmap(struct wx_sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret);
}
