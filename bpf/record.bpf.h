/* Building a record: everything the kernel knows about the process and the region at the
 * moment a change is seen, written into one ring-buffer record (struct wx_record), with dedup
 * and loss counting. The hooks (wxwatch.bpf.c) decide what changed; this file says it. */
#ifndef WXWATCH_RECORD_BPF_H
#define WXWATCH_RECORD_BPF_H

#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "kernel.bpf.h"
#include "wxwatch.h"

#define VM_READ 0x1ULL
#define VM_WRITE 0x2ULL
#define VM_EXEC 0x4ULL
#define VM_SHARED 0x8ULL
#define VM_MAYWRITE 0x20ULL
#define VM_GROWSDOWN 0x100ULL
#define PATH_DEPTH 48
#define NAME_MAX 255
#define RECORD_BUF 131072 /* power of two above WX_RECORD_MAX_SIZE: offsets are masked with it */
#define MNT_NS_INTERNAL ((void *)-22L) /* ERR_PTR(-EINVAL): kern_mount()'s internal mounts */

/* Set between open and load; the verifier prunes what they switch off. */
const volatile __u64 wakeup_bytes = 0;  /* wake the reader early once this much is queued */
/* One record per transition per process image; off restores one per transition (Tracee). */
const volatile __u8 dedup = 1;
/* Bytes of newly executable code copied into W→X, alias and blocked records (0: none). */
const volatile __u32 capture_bytes = 0;

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
	__u32 truncated;
	char path[EXE_CACHE_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct wx_image_key);
	__type(value, struct wx_exe_path);
} wx_exe_cache SEC(".maps");

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
	__u32 flags; /* the outcome: WX_F_DENIED, WX_F_WRITABLE_ALIAS, WX_F_BLOCKED */
	__u8 region;
	__u8 _pad[7];
};


/* What a hook saw change in one VMA. The file is alive while the hook runs: the VMA holds it and
 * the mmap lock keeps the VMA (or a merged successor mapping the same file) in place. */
struct wx_change {
	__u64 addr;       /* the call's address (mprotect) or where the mapping landed (mmap) */
	__u64 len;
	__u64 vma_start;  /* the VMA before the change */
	__u64 vma_end;
	__u64 prev_flags;
	__u64 new_flags;
	struct file *file;
	__s64 ret;        /* the refusal's error, for a denied change */
	__s32 prot;       /* as requested */
	__u32 alert;
	__u32 flags;      /* WX_F_* the hook decided */
	__s32 writable_maps;
	__u16 syscall;
};


/* Work space per CPU (slot = CPU number, max_entries set to the CPU count at load): too big for
 * the 512-byte BPF stack, and for a per-CPU array (32 KiB) once a record carries code. A program
 * runs to its end on one CPU, and none of ours runs nested inside another on the same CPU. */
struct wx_scratch {
	char record[RECORD_BUF + WX_PATH_MAX];
	char path[2 * WX_PATH_MAX];
	struct wx_exe_path exe;
	__u64 node[32]; /* one maple tree node (maple.bpf.h) */
	/* A change being judged and emit()'s keys: off the stack, which a hook and the bpf_loop
	 * callback it runs share (512 bytes on 6.1). */
	struct wx_change change;
	struct wx_dedup_key dedup_key;
	struct wx_image_key image;
	/* resolve_path's write offset and outcome: kept in the map, not on the stack, so that the
	 * verifier sees an unknown value each step and checks the step once, not per iteration. */
	__u32 path_off;
	__u32 path_complete;
	/* The capture budget: bytes copied in the current 100 ms window of this CPU. */
	__u64 code_window_start;
	__u64 code_spent;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* the CPU count, set at load */
	__type(key, __u32);
	__type(value, struct wx_scratch);
} wx_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct wx_dedup_key);
	__type(value, __u8);
} wx_dedup SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&wx_counters, &which);
	if (c)
		*c += 1;
}

static __always_inline struct wx_scratch *scratch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&wx_scratch, &cpu);
}

/* Tracee's mem_prot_alert order: 2, then 3, then 4, a later match overwriting an earlier one.
 * The request is the VMA's new flags (EXEC included when the personality implied it). */
static __always_inline __u32 judge(__u64 prev, __u64 next)
{
	__u32 alert = WX_ALERT_NONE;
	if (!(next & VM_EXEC))
		return alert;
	if (!(prev & VM_EXEC))
		alert = WX_ALERT_MPROT_X_ADD;
	if ((prev & VM_EXEC) && !(prev & VM_WRITE) && (next & VM_WRITE))
		alert = WX_ALERT_MPROT_W_ADD;
	if ((prev & VM_WRITE) && !(next & VM_WRITE))
		alert = WX_ALERT_MPROT_W_REM;
	return alert;
}

/* Shared mappings of the file that may write, other than this one (the kernel's own count,
 * i_mmap_writable; negative once the file is write-sealed). */
static __always_inline __s32 writable_others(struct file *file, __u64 vm_flags)
{
	if (!file)
		return 0;
	__s32 n = BPF_CORE_READ(file, f_mapping, i_mmap_writable.counter);
	if ((vm_flags & (VM_SHARED | VM_MAYWRITE)) == (VM_SHARED | VM_MAYWRITE))
		n--;
	return n;
}

/* A file mapped or made executable while another mapping of it can write: code can change
 * under the executable view without any protection change. */
static __always_inline int writable_alias(__s32 others, __u64 prev, __u64 next)
{
	return others > 0 && !(prev & VM_EXEC) && (next & VM_EXEC);
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
		if (mnt == up) {
			s->path_complete = 1; /* the namespace's root */
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		w->vfsmnt = (void *)up + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	if (dentry == parent) {
		/* A dentry of a pseudo filesystem (memfd, anonymous shared memory): as in d_path, its
		 * own name is the whole path. */
		if (s->path_off != WX_PATH_MAX) {
			s->path_complete = 1;
			return 1;
		}
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
	if (last)
		s->path_complete = 1;
	return last;
}

/* Writes the full path of *path backwards so that it ends at s->path[WX_PATH_MAX]; returns its
 * length. Walks dentries up to each mount's root, then crosses to the mount point, as d_path
 * does. A path deeper than PATH_DEPTH components keeps its last components (path_complete 0). */
static __always_inline __u32 resolve_path(struct wx_scratch *s, struct path *path)
{
	struct path_walk w = {
		.dentry = BPF_CORE_READ(path, dentry),
		.vfsmnt = BPF_CORE_READ(path, mnt),
	};
	w.mnt = real_mount(w.vfsmnt);
	s->path_off = WX_PATH_MAX;
	s->path_complete = 0;
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

static __always_inline void fill_region(struct wx_record *r, struct task_struct *task, struct wx_change *c)
{
	struct file *file = c->file;
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
	if (c->vma_start < brk && c->vma_end > start_brk)
		r->region = WX_REGION_HEAP;
	else if ((c->prev_flags & VM_GROWSDOWN) || (c->vma_start <= start_stack && start_stack < c->vma_end))
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

/* Clamps a length for the verifier in a register it cannot lose track of. */
static __always_inline __u64 exe_cache_len(__u64 len)
{
	asm volatile("%[len] &= 511" : [len] "+r"(len));
	return len;
}

/* Appends the executable's path at byte offset at, from the cache when it has it. */
static __always_inline __u32 append_exe(struct wx_scratch *s, struct wx_record *r, __u32 at,
					struct task_struct *task, struct wx_image_key *image)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	if (!exe)
		return 0;
	if (BPF_CORE_READ(exe, f_inode, i_nlink) == 0)
		r->flags |= WX_F_EXE_DELETED;
	struct wx_exe_path *cached = bpf_map_lookup_elem(&wx_exe_cache, image);
	if (cached) {
		__u64 len = exe_cache_len(cached->len);
		if (cached->truncated)
			r->flags |= WX_F_EXE_TRUNCATED;
		bpf_probe_read_kernel(&s->record[at & (RECORD_BUF - 1)], len, cached->path);
		return len;
	}
	struct path ep = BPF_CORE_READ(exe, f_path);
	__u32 len = append_path(s, at, &ep);
	if (!s->path_complete)
		r->flags |= WX_F_EXE_TRUNCATED;
	if (len < EXE_CACHE_LEN) {
		__u64 n = exe_cache_len(len);
		s->exe.len = n;
		s->exe.truncated = !s->path_complete;
		bpf_probe_read_kernel(s->exe.path, n, &s->record[at & (RECORD_BUF - 1)]);
		bpf_map_update_elem(&wx_exe_cache, image, &s->exe, BPF_ANY);
	}
	return len;
}

struct code_copy {
	__u64 from;   /* user address of the window */
	__u32 window; /* its length */
	__u32 at;     /* write offset in the record */
	__u32 missing;
};

/* Copies page i of the window, or marks it missing: a page not present cannot be faulted in
 * here (the hooks cannot sleep), and is said so rather than hashed as zeros. */
static long code_page(__u32 i, void *data)
{
	struct code_copy *cc = data;
	struct wx_scratch *s = scratch();
	__u32 off = i * WX_CODE_PAGE;
	if (!s || off >= cc->window || i >= WX_CODE_MAX / WX_CODE_PAGE)
		return 1;
	__u32 n = cc->window - off;
	if (n > WX_CODE_PAGE)
		n = WX_CODE_PAGE;
	asm volatile("%[n] &= 8191" : [n] "+r"(n));
	if (n == 0 || n > WX_CODE_PAGE)
		return 1;
	if (bpf_probe_read_user(&s->record[cc->at & (RECORD_BUF - 1)], n, (void *)(cc->from + off)))
		cc->missing |= 1u << (i & 31);
	else
		cc->at += n;
	return 0;
}

/* Whether this CPU may copy window more bytes of code now (WX_CODE_BUDGET per 100 ms). */
static __always_inline int code_budget(struct wx_scratch *s, __u64 window)
{
	__u64 now = bpf_ktime_get_ns();
	if (now - s->code_window_start > 100000000ULL) {
		s->code_window_start = now;
		s->code_spent = 0;
	}
	if (s->code_spent + window > WX_CODE_BUDGET)
		return 0;
	s->code_spent += window;
	return 1;
}

/* The part of the change's range inside its VMA, up to capture_bytes, appended at byte at. */
static __always_inline __u32 append_code(struct wx_scratch *s, struct wx_record *r, struct wx_change *c, __u32 at)
{
	__u64 end = c->addr + c->len;
	__u64 from = c->addr > c->vma_start ? c->addr : c->vma_start;
	if (c->vma_end < end)
		end = c->vma_end;
	from &= ~(__u64)(WX_CODE_PAGE - 1);
	if (end <= from)
		return 0;
	__u64 window = end - from;
	if (window > capture_bytes) {
		window = capture_bytes;
		r->flags |= WX_F_CODE_TRUNCATED;
	}
	if (!code_budget(s, window)) {
		r->flags |= WX_F_CODE_SKIPPED;
		count(WX_CNT_CODE_SKIPPED);
		return 0;
	}
	struct code_copy cc = { .from = from, .window = window, .at = at };
	bpf_loop(WX_CODE_MAX / WX_CODE_PAGE, code_page, &cc, 0);
	r->code_addr = from;
	r->code_window = window;
	r->code_missing = cc.missing;
	r->code_len = cc.at - at;
	return r->code_len;
}

/* Builds one record in scratch and copies it into the ring buffer. */
static __always_inline void emit(struct wx_scratch *s, struct wx_change *c)
{
	struct wx_record *r = (void *)s->record;
	struct task_struct *task = bpf_get_current_task_btf();
	__builtin_memset(r, 0, sizeof(*r));
	count(WX_CNT_SEEN);
	if (c->flags & WX_F_PREV_UNKNOWN)
		count(WX_CNT_DEGRADED);

	/* First what dedup needs, so that a suppressed alert costs no more than that. */
	fill_region(r, task, c);
	struct wx_image_key *image = &s->image;
	image->start_boot_ns = task->group_leader->start_boottime;
	image->exec_id = task->self_exec_id;
	image->tgid = task->tgid;
	image->_pad = 0;
	struct wx_dedup_key *key = &s->dedup_key;
	if (dedup) {
		__builtin_memset(key, 0, sizeof(*key));
		key->start_boot_ns = image->start_boot_ns;
		key->exec_id = image->exec_id;
		key->tgid = image->tgid;
		key->alert = c->alert;
		key->flags = c->flags & (WX_F_DENIED | WX_F_WRITABLE_ALIAS | WX_F_BLOCKED);
		key->region = r->region;
		key->dev = r->dev;
		key->inode = r->inode;
		if (bpf_map_lookup_elem(&wx_dedup, key)) {
			count(WX_CNT_SUPPRESSED);
			return;
		}
	}

	r->alert = c->alert;
	r->ts_boot_ns = bpf_ktime_get_boot_ns();
	r->addr = c->addr;
	r->len = c->len;
	r->prot = c->prot;
	r->prev_vm_flags = c->prev_flags;
	r->new_vm_flags = c->new_flags;
	r->vma_start = c->vma_start;
	r->vma_end = c->vma_end;
	r->ret = c->ret;
	r->syscall = c->syscall;
	r->writable_maps = c->writable_maps;
	r->flags |= c->flags;
	fill_task(r, task);

	__u32 at = WX_RECORD_FIXED_SIZE;
	const char *node = BPF_CORE_READ(task, nsproxy, uts_ns, name.nodename);
	long n = bpf_probe_read_kernel_str(&s->record[at], WX_UTS_LEN, node);
	r->uts_len = n > 1 ? n - 1 : 0;
	at += r->uts_len;

	struct file *file = c->file;
	if (file) {
		struct path fp = BPF_CORE_READ(file, f_path);
		r->path_len = append_path(s, at, &fp);
		if (!s->path_complete)
			r->flags |= WX_F_PATH_TRUNCATED;
		at += r->path_len;
	}
	r->exe_len = append_exe(s, r, at, task, image);
	at += r->exe_len;

	r->cgroup_len = append_cgroup(s, at, task);
	at += r->cgroup_len;

	/* Evidence: the code a W→X (or an alias, or a refusal) made executable. */
	if (capture_bytes && !(c->flags & WX_F_DENIED) &&
	    (c->alert == WX_ALERT_MPROT_W_REM || (c->flags & (WX_F_WRITABLE_ALIAS | WX_F_BLOCKED))))
		at += append_code(s, r, c, at);

	__u32 size = (at + WX_RECORD_ALIGN - 1) & ~(WX_RECORD_ALIGN - 1);
	/* An explicit bound the verifier carries into the helper call on every kernel (6.1 loses
	 * the one a plain comparison gives). */
	asm volatile("%[size] &= 131071" : [size] "+r"(size));
	if (size > WX_RECORD_MAX_SIZE || size < WX_RECORD_FIXED_SIZE) {
		count(WX_CNT_LOST); /* cannot happen; if it did, the books still balance */
		return;
	}
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
		bpf_map_update_elem(&wx_dedup, key, &one, BPF_ANY);
	}
}

#endif /* WXWATCH_RECORD_BPF_H */
