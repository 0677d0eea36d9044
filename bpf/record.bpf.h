/* Building a record: everything the kernel knows about the process and the region at the
 * moment a change is seen, written into one ring-buffer record (struct wx_record), with dedup,
 * fair shares and loss counting. The hooks decide what changed; this file says it.
 *
 * Preemption: on a preemptible kernel (PREEMPT_LAZY, preempt=full) a program can be preempted
 * and another run on the same CPU. So no per-CPU buffer is shared by two runs: each run takes a
 * work slot (compare-and-swap, WX_SLOTS_PER_CPU per CPU) for as long as it builds, and counts a
 * loss if every slot of the CPU is held. Counters are atomic adds. */
#ifndef WXWATCH_RECORD_BPF_H
#define WXWATCH_RECORD_BPF_H

#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "kernel.bpf.h"
#include "maple.bpf.h"
#include "code-window.bpf.h"
#include "counters.bpf.h"
#include "memory.bpf.h"
#include "wxwatch.h"

#define PATH_DEPTH 48
#define NAME_MAX 255
#define RECORD_BUF 131072 /* power of two above WX_RECORD_MAX_SIZE: offsets are masked with it */
#define WINDOW_NS 100000000ULL /* fair share windows: 100 ms */

/* Set between open and load; the verifier prunes what they switch off. */
const volatile __u64 wakeup_bytes = 0;  /* wake the reader early once this much is queued */
const volatile __u64 ring_bytes = 0;    /* the ring's size: fair shares are fractions of it */
/* One record per transition per process image; off restores one per transition (Tracee). */
const volatile __u8 dedup = 1;
/* Bytes of newly executable code copied into W→X, alias, write and blocked records (0: none). */
const volatile __u32 capture_bytes = 0;
const volatile __u8 emit_denied = 0; /* also emit changes that were not applied (WX_F_DENIED) */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* resized at load */
} wx_events SEC(".maps");

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

/* Dedup: a transition is the same when event, alert, outcome, region kind and backing file
 * are. The process image is (tgid, start time, exec id): a reused pid or an exec makes a new
 * key, so nothing needs clearing; dead processes' keys age out of the LRU. Losing a key to
 * eviction only repeats a finding. */
struct wx_dedup_key {
	__u64 start_boot_ns;
	__u64 exec_id;
	__u64 inode;
	__u32 tgid;
	__u32 dev;
	__u32 alert;
	__u32 flags; /* the outcome and the kind of memory (WX_DEDUP_FLAGS) */
	__u8 region;
	__u8 event;
	__u8 route;
	__u8 _pad[5];
};

#define WX_DEDUP_FLAGS                                                                             \
	(WX_F_DENIED | WX_F_WRITABLE_ALIAS | WX_F_BLOCKED | WX_F_WRITTEN | WX_F_IN_MEMORY_FILE |      \
	 WX_F_ALIAS_EXEC_FIRST)

/* What a hook saw change in one VMA (or, for a write event, be written). The file is alive
 * while the hook runs: the VMA holds it and the mmap lock keeps the VMA (or a merged successor
 * mapping the same file) in place. */
struct wx_change {
	__u64 addr;       /* the call's address (mprotect), where the mapping landed (mmap), or
			   * where the bytes were written (write events) */
	__u64 len;
	__u64 vma_start;  /* the VMA before the change */
	__u64 vma_end;
	__u64 prev_flags;
	__u64 new_flags;
	struct file *file;
	__s64 ret;        /* the refusal's error, for a denied change */
	__u64 code_src;   /* write events: where the bytes written can be read (0: not known) */
	__u64 poke;       /* a ptrace poke's data: code_src points here */
	__u64 first;      /* summaries: the first and last address they stand for */
	__u64 last;
	__u64 alias_start;
	__u64 alias_end;
	struct mm_struct *target_mm; /* write events: the mm written */
	__s32 prot;       /* as requested */
	__u32 alert;
	__u32 flags;      /* WX_F_* the hook decided */
	__s32 writable_maps;
	__u32 summary_count;
	__u32 alias_pid;
	__u16 syscall;
	__u8 event;
	__u8 route;
	__u8 rule;
	__u8 code_kernel; /* code_src is kernel memory */
	__u8 _pad[2];
};

/* A process's share of the ring in the current window, and what it could not write: counted
 * into one summary record, written with its next record once the ring has room again, or by
 * flush_summaries (user space runs it) for a process that went quiet. */
struct wx_share {
	__u64 window_start;
	__u64 bytes;
	__u64 pending;    /* throttled records not yet summarised */
	__u64 first;
	__u64 last;
	__u64 leader_start_boot_ns; /* the process, for a summary written outside it */
	__u64 cgroup_id;
	__u32 alert;      /* of the first throttled record; the summary reports it */
	__u32 flags;      /* union of the throttled records' flags */
	__u32 tgid;
	__u32 uid;
	char comm[WX_COMM_LEN];
	__u8 event;
	__u8 _pad[7];
};

/* A walk of a file's views (alias.bpf.h): what it looks for, and what it found. */
struct wx_views {
	__u64 file;
	__u64 self;
	__u64 pgoff_first;
	__u64 pgoff_last;
	__u32 want_exec;
	__u32 found;
	__u32 shared;
	__u32 shared_maywrite;
	__u32 complete;
	__u32 _pad;
	__u64 first_start;
	__u64 first_end;
	__u64 first_mm;
	__u64 first_pgoff;
};

/* A work slot: too big for the 512-byte BPF stack, and for a per-CPU array (32 KiB) once a
 * record carries code. Slot i belongs to CPU i / WX_SLOTS_PER_CPU; busy says a run holds it. */
struct wx_scratch {
	__u32 busy;
	/* resolve_path's write offset and outcome: kept here, not on the stack, so that the
	 * verifier sees an unknown value each step and checks the step once, not per iteration. */
	__u32 path_off;
	__u32 path_complete;
	__u32 _pad;
	/* The capture budget: bytes copied in the current 100 ms window of this slot. */
	__u64 code_window_start;
	__u64 code_spent;
	/* A change being judged and emit()'s keys: off the stack, which a hook and the bpf_loop
	 * callback it runs share (512 bytes on 6.1). */
	struct wx_change change;
	struct wx_views views;
	struct vma_read vma; /* a VMA being judged */
	struct wx_share fresh_share; /* a zeroed share to insert (a map value, not on the stack) */
	struct wx_dedup_key dedup_key;
	struct wx_image_key image;
	struct maple_node_buf node; /* one maple tree node (maple.bpf.h) */
	struct wx_exe_path exe;
	char path[2 * WX_PATH_MAX];
	char record[RECORD_BUF + WX_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WX_SLOTS_PER_CPU); /* CPUs × WX_SLOTS_PER_CPU, set at load */
	__type(key, __u32);
	__type(value, struct wx_scratch);
} wx_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct wx_dedup_key);
	__type(value, __u8);
} wx_dedup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct wx_image_key);
	__type(value, struct wx_share);
} wx_shares SEC(".maps");


static __always_inline struct wx_scratch *slot_at(__u32 idx)
{
	return bpf_map_lookup_elem(&wx_scratch, &idx);
}

/* Takes a free work slot of this CPU; NULL (and a counted loss) when a preempted run holds
 * every one. The program stays on this CPU while it runs (migration is disabled). */
static __always_inline struct wx_scratch *slot_take(__u32 *idx)
{
	__u32 base = bpf_get_smp_processor_id() * WX_SLOTS_PER_CPU;
	for (__u32 k = 0; k < WX_SLOTS_PER_CPU; k++) {
		__u32 i = base + k;
		struct wx_scratch *s = bpf_map_lookup_elem(&wx_scratch, &i);
		if (s && __sync_val_compare_and_swap(&s->busy, 0, 1) == 0) {
			*idx = i;
			return s;
		}
	}
	return 0;
}

/* A slot for a change about to be judged; with none free the change is seen and counted
 * lost-busy, so the books still hold. */
static __always_inline struct wx_scratch *slot_take_or_count(__u32 *idx)
{
	struct wx_scratch *s = slot_take(idx);
	if (!s) {
		count(WX_CNT_SEEN);
		count(WX_CNT_LOST_BUSY);
	}
	return s;
}

static __always_inline void slot_put(struct wx_scratch *s)
{
	__sync_lock_test_and_set(&s->busy, 0);
}

struct path_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	__u32 slot;
};

/* One step of resolve_path: one dentry, or one crossing to a parent mount. */
static long path_step(__u32 i, void *data)
{
	struct path_walk *w = data;
	struct wx_scratch *s = slot_at(w->slot);
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
static __always_inline __u32 resolve_path(struct wx_scratch *s, __u32 slot, struct path *path)
{
	struct path_walk w = {
		.dentry = BPF_CORE_READ(path, dentry),
		.vfsmnt = BPF_CORE_READ(path, mnt),
		.slot = slot,
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

/* Copies a path resolved into s->path onto the record at byte offset at; returns its length. */
static __always_inline __u32 append_path(struct wx_scratch *s, __u32 slot, __u32 at, struct path *path)
{
	__u32 len = resolve_path(s, slot, path);
	if (len > WX_PATH_MAX - 1)
		len = WX_PATH_MAX - 1;
	bpf_probe_read_kernel(&s->record[at & (RECORD_BUF - 1)], len & (WX_PATH_MAX - 1),
			      &s->path[(WX_PATH_MAX - len) & (WX_PATH_MAX - 1)]);
	return len;
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

	/* numbers[level]: a variable index, so computed on a plain pointer and read the slower way */
	struct pid *tp = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(tp, level);
	struct upid *u = (void *)tp + bpf_core_field_offset(struct pid, numbers) +
			 level * bpf_core_type_size(struct upid);
	struct pid_namespace *ns = BPF_CORE_READ(u, ns);
	r->pid_ns = BPF_CORE_READ(ns, ns.inum);
	r->ns_tid = BPF_CORE_READ(u, nr);
	r->ns_pid = pid_nr_at(BPF_CORE_READ(leader, thread_pid), level, ns);
	r->ns_ppid = pid_nr_at(BPF_CORE_READ(parent, group_leader, thread_pid), level, ns);
}

static __always_inline void fill_region(struct wx_record *r, struct mm_struct *mm, struct wx_change *c)
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
	__u64 start_brk = BPF_CORE_READ(mm, start_brk), brk = BPF_CORE_READ(mm, brk);
	__u64 start_stack = BPF_CORE_READ(mm, start_stack);
	if (c->vma_start < brk && c->vma_end > start_brk)
		r->region = WX_REGION_HEAP;
	else if ((c->prev_flags & VM_GROWSDOWN) || (c->new_flags & VM_GROWSDOWN) ||
		 (c->vma_start <= start_stack && start_stack < c->vma_end))
		r->region = WX_REGION_STACK;
	else
		r->region = WX_REGION_ANON;
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

/* Appends the executable of the process image `image` (mm's) at byte offset at, from the
 * cache when it has it. Sets truncated/deleted flags in *flags. */
static __always_inline __u32 append_exe(struct wx_scratch *s, __u32 slot, __u32 *flags, __u32 at, struct mm_struct *mm,
					struct wx_image_key *image, __u32 deleted_flag, __u32 truncated_flag)
{
	struct file *exe = BPF_CORE_READ(mm, exe_file);
	if (!exe)
		return 0;
	if (BPF_CORE_READ(exe, f_inode, i_nlink) == 0)
		*flags |= deleted_flag;
	struct wx_exe_path *cached = bpf_map_lookup_elem(&wx_exe_cache, image);
	if (cached) {
		__u64 len = exe_cache_len(cached->len);
		if (cached->truncated)
			*flags |= truncated_flag;
		bpf_probe_read_kernel(&s->record[at & (RECORD_BUF - 1)], len, cached->path);
		return len;
	}
	struct path ep = BPF_CORE_READ(exe, f_path);
	__u32 len = append_path(s, slot, at, &ep);
	if (!s->path_complete)
		*flags |= truncated_flag;
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
	__u64 from;   /* address of the window */
	__u32 window; /* its length */
	__u32 at;     /* write offset in the record */
	__u32 missing;
	__u32 slot;
	__u8 kernel;  /* from is kernel memory */
};

/* Copies page i of the window, or marks it missing: a page not present cannot be faulted in
 * here (the hooks cannot sleep), and is said so rather than hashed as zeros. */
static long code_page(__u32 i, void *data)
{
	struct code_copy *cc = data;
	struct wx_scratch *s = slot_at(cc->slot);
	__u32 off = i * WX_CODE_PAGE;
	if (!s || off >= cc->window || i >= WX_CODE_MAX / WX_CODE_PAGE)
		return 1;
	__u32 n = cc->window - off;
	if (n > WX_CODE_PAGE)
		n = WX_CODE_PAGE;
	asm volatile("%[n] &= 8191" : [n] "+r"(n));
	if (n == 0 || n > WX_CODE_PAGE)
		return 1;
	void *dst = &s->record[cc->at & (RECORD_BUF - 1)];
	long err = cc->kernel ? bpf_probe_read_kernel(dst, n, (void *)(cc->from + off))
			      : bpf_probe_read_user(dst, n, (void *)(cc->from + off));
	if (err)
		cc->missing |= 1u << (i & 31);
	else
		cc->at += n;
	return 0;
}

/* The code a change made executable (the part of its range inside the VMA), or the bytes a
 * write event wrote, up to capture_bytes, appended at byte at. */
static __always_inline __u32 append_code(struct wx_scratch *s, __u32 slot, struct wx_record *r, struct wx_change *c,
					 __u32 at)
{
	__u64 from;
	int truncated;
	__u64 window = code_window(c->event == WX_EVENT_WRITE, c->code_src, c->addr, c->len, c->vma_start, c->vma_end,
				   capture_bytes, &from, &truncated);
	if (!window)
		return 0;
	if (truncated)
		r->flags |= WX_F_CODE_TRUNCATED;
	if (!code_budget_take(&s->code_window_start, &s->code_spent, window)) {
		r->flags |= WX_F_CODE_SKIPPED;
		count(WX_CNT_CODE_SKIPPED);
		return 0;
	}
	struct code_copy cc = { .from = from, .window = window, .at = at, .slot = slot, .kernel = c->code_kernel };
	bpf_loop(WX_CODE_MAX / WX_CODE_PAGE, code_page, &cc, 0);
	r->code_addr = c->event == WX_EVENT_WRITE ? c->addr : from;
	r->code_window = window;
	r->code_missing = cc.missing;
	r->code_len = cc.at - at;
	return r->code_len;
}

static __always_inline void image_of(struct wx_image_key *image, struct task_struct *task)
{
	image->start_boot_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	image->exec_id = BPF_CORE_READ(task, self_exec_id);
	image->tgid = BPF_CORE_READ(task, tgid);
	image->_pad = 0;
}

/* The process a write event wrote into: the mm's owner (CONFIG_MEMCG), else nothing known. */
static __always_inline struct task_struct *mm_owner(struct mm_struct *mm)
{
	if (!mm || !bpf_core_field_exists(struct mm_struct, owner))
		return 0;
	return BPF_CORE_READ(mm, owner);
}

static __always_inline void fill_target(struct wx_scratch *s, __u32 slot, struct wx_record *r, struct wx_change *c,
					__u32 *at)
{
	struct task_struct *owner = mm_owner(c->target_mm);
	if (!owner)
		return;
	r->target_pid = BPF_CORE_READ(owner, tgid);
	r->target_start_boot_ns = BPF_CORE_READ(owner, group_leader, start_boottime);
	bpf_probe_read_kernel_str(r->target_comm, sizeof(r->target_comm), BPF_CORE_READ(owner, comm));
	struct wx_image_key *image = &s->image;
	image_of(image, owner);
	__u32 ignored = 0;
	r->target_exe_len = append_exe(s, slot, &ignored, *at, c->target_mm, image, 0, 0);
	*at += r->target_exe_len;
}

/* What a call writes one by one (WX_CALL_RECORDS), and per alert kind what it counted into
 * summaries past that: one call over N VMAs costs a bounded number of records. Lives with the
 * call's state (task storage), so it is never shared between runs. */
#define WX_TALLY_KINDS 8 /* alert kinds 0-4, rounded up to a power of two for the index mask */

struct wx_tally_kind {
	__u64 count;
	__u64 first;
	__u64 last;
	__u32 flags;
	__u32 _pad;
};

struct wx_tally {
	__u32 records;
	__u32 _pad;
	struct wx_tally_kind kind[WX_TALLY_KINDS];
};

static __always_inline void tally_add(struct wx_tally_kind *k, struct wx_change *c)
{
	if (k->count++ == 0)
		k->first = c->vma_start;
	k->last = c->vma_end;
	k->flags |= c->flags;
}

/* A summary record standing for count changes of one kind, from first to last. */
static __always_inline void summary_of(struct wx_change *sum, __u32 alert, __u8 event, __u32 flags, __u64 count,
				       __u64 first, __u64 last, __u16 syscall)
{
	__builtin_memset(sum, 0, sizeof(*sum));
	sum->alert = alert;
	sum->event = event;
	sum->flags = (flags & ~(WX_F_HAS_FILE | WX_F_CODE_TRUNCATED | WX_F_CODE_SKIPPED)) | WX_F_SUMMARY;
	sum->summary_count = count;
	sum->vma_start = first;
	sum->vma_end = last;
	sum->addr = first;
	sum->len = last - first;
	sum->syscall = syscall;
}

static __always_inline void throttle(struct wx_share *share, struct wx_change *c, struct wx_record *r)
{
	if (__sync_fetch_and_add(&share->pending, 1) == 0) {
		share->first = c->vma_start;
		share->alert = c->alert;
		share->event = c->event;
		share->tgid = r->host_pid;
		share->uid = r->uid;
		share->leader_start_boot_ns = r->leader_start_boot_ns;
		share->cgroup_id = r->cgroup_id;
		__builtin_memcpy(share->comm, r->comm, sizeof(share->comm));
	}
	share->last = c->vma_end;
	__sync_fetch_and_or(&share->flags, c->flags);
	count(WX_CNT_THROTTLED);
}

/* Builds one record from the slot's change and writes it into the ring buffer, unless dedup suppresses
 * it, the call's tally has written its share (counted into the tally's summary), or the
 * process is past its fair share of a filling ring (counted into the process's summary).
 * Summaries (WX_F_SUMMARY) bypass all three: each stands for records already counted. */
static __always_inline int write_change(struct wx_scratch *s, __u32 slot, struct wx_tally *tally)
{
	struct wx_change *c = &s->change;
	struct wx_record *r = (void *)s->record;
	struct task_struct *task = bpf_get_current_task_btf();
	struct mm_struct *mm = task->mm;
	__builtin_memset(r, 0, sizeof(*r));
	count(WX_CNT_SEEN);
	int summary = (c->flags & WX_F_SUMMARY) != 0;
	/* (a summary's members were counted each) */
	if (!summary && (c->flags & (WX_F_PREV_UNKNOWN | WX_F_ALIAS_UNSURE | WX_F_RANGE_UNSURE | WX_F_OUTCOME_LATE)))
		count(WX_CNT_DEGRADED);

	/* First what dedup needs, so that a suppressed alert costs no more than that. */
	fill_region(r, c->event == WX_EVENT_WRITE && c->target_mm ? c->target_mm : mm, c);
	struct wx_image_key *image = &s->image;
	image_of(image, task);
	struct wx_dedup_key *key = &s->dedup_key;
	if (dedup && !summary) {
		__builtin_memset(key, 0, sizeof(*key));
		key->start_boot_ns = image->start_boot_ns;
		key->exec_id = image->exec_id;
		key->tgid = image->tgid;
		key->alert = c->alert;
		key->flags = c->flags & WX_DEDUP_FLAGS;
		key->region = r->region;
		key->event = c->event;
		key->route = c->route;
		key->dev = r->dev;
		key->inode = r->inode;
		if (bpf_map_lookup_elem(&wx_dedup, key)) {
			count(WX_CNT_SUPPRESSED);
			return 0;
		}
	}
	if (tally && !summary) {
		if (tally->records >= WX_CALL_RECORDS) {
			tally_add(&tally->kind[c->alert & (WX_TALLY_KINDS - 1)], c);
			count(WX_CNT_THROTTLED);
			return 0;
		}
		tally->records++;
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
	r->event = c->event;
	r->route = c->route;
	r->rule = c->rule;
	r->summary_count = c->summary_count;
	r->alias_start = c->alias_start;
	r->alias_end = c->alias_end;
	r->alias_pid = c->alias_pid;
	fill_task(r, task);

	__u32 at = WX_RECORD_FIXED_SIZE;
	const char *node = BPF_CORE_READ(task, nsproxy, uts_ns, name.nodename);
	long n = bpf_probe_read_kernel_str(&s->record[at], WX_UTS_LEN, node);
	r->uts_len = n > 1 ? n - 1 : 0;
	at += r->uts_len;

	struct file *file = c->file;
	if (file && !summary) {
		struct path fp = BPF_CORE_READ(file, f_path);
		r->path_len = append_path(s, slot, at, &fp);
		if (!s->path_complete)
			r->flags |= WX_F_PATH_TRUNCATED;
		at += r->path_len;
	}
	r->exe_len = append_exe(s, slot, &r->flags, at, mm, image, WX_F_EXE_DELETED, WX_F_EXE_TRUNCATED);
	at += r->exe_len;

	r->cgroup_len = append_cgroup(s, at, task);
	at += r->cgroup_len;

	if (c->event == WX_EVENT_WRITE)
		fill_target(s, slot, r, c, &at);

	/* Evidence: the code a change made executable, or the bytes a write wrote. */
	if (capture_bytes && !summary && !(c->flags & WX_F_DENIED) &&
	    (c->event == WX_EVENT_WRITE || c->alert == WX_ALERT_MPROT_W_REM ||
	     (c->flags & (WX_F_WRITABLE_ALIAS | WX_F_BLOCKED | WX_F_WRITTEN | WX_F_IN_MEMORY_FILE))))
		at += append_code(s, slot, r, c, at);

	__u32 size = (at + WX_RECORD_ALIGN - 1) & ~(WX_RECORD_ALIGN - 1);
	/* An explicit bound the verifier carries into the helper call on every kernel (6.1 loses
	 * the one a plain comparison gives). */
	asm volatile("%[size] &= 131071" : [size] "+r"(size));
	if (size > WX_RECORD_MAX_SIZE || size < WX_RECORD_FIXED_SIZE) {
		count(WX_CNT_LOST); /* cannot happen; if it did, the books still balance */
		return 0;
	}
	r->size = at;

	/* The image key again: fill_target may have used the slot's key for the target. */
	image_of(image, task);
	if (!summary) {
		struct wx_share *share = bpf_map_lookup_elem(&wx_shares, image);
		if (!share) {
			__builtin_memset(&s->fresh_share, 0, sizeof(s->fresh_share));
			s->fresh_share.window_start = bpf_ktime_get_ns();
			bpf_map_update_elem(&wx_shares, image, &s->fresh_share, BPF_NOEXIST);
			share = bpf_map_lookup_elem(&wx_shares, image);
		}
		if (share) {
			__u64 now = bpf_ktime_get_ns();
			if (now - share->window_start > WINDOW_NS) {
				share->window_start = now;
				share->bytes = 0;
			}
			__u64 queued = bpf_ringbuf_query(&wx_events, BPF_RB_AVAIL_DATA);
			if (queued * 2 >= ring_bytes && share->bytes + size > ring_bytes / WX_FAIR_SHARE) {
				throttle(share, c, r);
				return 0;
			}
			__sync_fetch_and_add(&share->bytes, size);
		}
	}
	/* Submit without waking the reader (it drains on a short timer) unless the ring is filling. */
	__u64 queued = bpf_ringbuf_query(&wx_events, BPF_RB_AVAIL_DATA);
	__u64 wake = queued + size >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&wx_events, r, size, wake)) {
		count(WX_CNT_LOST);
		return 0; /* not remembered: the next occurrence is delivered */
	}
	if (dedup && !summary) {
		__u8 one = 1;
		bpf_map_update_elem(&wx_dedup, key, &one, BPF_ANY);
	}
	return 0;
}

/* The current process's pending fair-share summary, into the slot's change, if the ring has
 * room for it again. */
static __always_inline int pending_share(struct wx_scratch *s)
{
	struct wx_share *share = bpf_map_lookup_elem(&wx_shares, &s->image);
	if (!share || !share->pending)
		return 0;
	if (bpf_ringbuf_query(&wx_events, BPF_RB_AVAIL_DATA) * 2 >= ring_bytes)
		return 0;
	__u64 n = __sync_lock_test_and_set(&share->pending, 0);
	if (!n)
		return 0;
	__u32 flags = __sync_lock_test_and_set(&share->flags, 0);
	summary_of(&s->change, share->alert, share->event, flags, n, share->first, share->last, WX_SYS_OTHER);
	return 1;
}

/* The slot's change as a record (or counted). A global function: the verifier checks it once,
 * not at each of its many callers, and its frame is apart from theirs. */
__noinline int emit_change(__u32 slot, struct wx_tally *tally)
{
	/* The slot by its index: a map value the helpers take (a pointer argument would be plain
	 * memory to the verifier, which 6.1's map helpers refuse). */
	struct wx_scratch *s = slot_at(slot);
	if (!s)
		return 0;
	return write_change(s, slot, tally);
}

/* The slot's change (c: always &s->change), as a record (or counted). */
static __always_inline void emit(struct wx_scratch *s, __u32 slot, struct wx_change *c, struct wx_tally *tally)
{
	emit_change(slot, tally);
}

/* Gives the slot back, writing first the current process's pending fair-share summary if the
 * ring has room for it again (from the hook itself, not deep in a walk: the stack is short). */
static __always_inline void slot_done(struct wx_scratch *s, __u32 slot)
{
	image_of(&s->image, bpf_get_current_task_btf());
	if (pending_share(s))
		emit_change(slot, 0);
	slot_put(s);
}

/* At the end of a call: one summary record per kind its tally counted past WX_CALL_RECORDS. */
static __always_inline void flush_tally(__u32 slot, struct wx_tally *tally, __u16 syscall)
{
	if (tally->records < WX_CALL_RECORDS) {
		tally->records = 0;
		return;
	}
	struct wx_scratch *s = slot_at(slot);
	if (!s)
		return;
	for (__u32 i = 0; i < WX_TALLY_KINDS; i++) {
		struct wx_tally_kind *k = &tally->kind[i];
		if (!k->count)
			continue;
		summary_of(&s->change, i, WX_EVENT_PROTECT, k->flags, k->count, k->first, k->last, syscall);
		k->count = 0;
		k->flags = 0;
		emit_change(slot, 0);
	}
	tally->records = 0;
}

/* Pending summaries of processes that went quiet: user space runs this (bpf_prog_test_run)
 * every 100 ms, and with force when it stops, so that every throttled record ends in a summary
 * record. Written from the process's saved context, not the current task's. */
struct share_flush {
	__u64 now;
	__u32 slot;
	__u32 force;
};

static long flush_one_share(struct bpf_map *map, struct wx_image_key *key, struct wx_share *share, struct share_flush *f)
{
	if (!share->pending)
		return 0;
	if (!f->force && (f->now - share->window_start <= WINDOW_NS ||
			  bpf_ringbuf_query(&wx_events, BPF_RB_AVAIL_DATA) * 2 >= ring_bytes))
		return 0;
	struct wx_scratch *s = slot_at(f->slot);
	if (!s)
		return 1;
	__u64 n = __sync_lock_test_and_set(&share->pending, 0);
	if (!n)
		return 0;
	__u32 flags = __sync_lock_test_and_set(&share->flags, 0);
	struct wx_record *r = (void *)s->record;
	__builtin_memset(r, 0, sizeof(*r));
	count(WX_CNT_SEEN);
	r->size = WX_RECORD_FIXED_SIZE;
	r->alert = share->alert;
	r->event = share->event;
	r->flags = (flags & ~(WX_F_HAS_FILE | WX_F_CODE_TRUNCATED | WX_F_CODE_SKIPPED)) | WX_F_SUMMARY;
	r->summary_count = n;
	r->vma_start = share->first;
	r->vma_end = share->last;
	r->addr = share->first;
	r->len = share->last - share->first;
	r->syscall = WX_SYS_OTHER;
	r->ts_boot_ns = bpf_ktime_get_boot_ns();
	r->host_pid = share->tgid;
	r->uid = share->uid;
	r->leader_start_boot_ns = share->leader_start_boot_ns;
	r->thread_start_boot_ns = share->leader_start_boot_ns;
	r->cgroup_id = share->cgroup_id;
	r->cpu = bpf_get_smp_processor_id();
	__builtin_memcpy(r->comm, share->comm, sizeof(r->comm));
	struct wx_exe_path *exe = bpf_map_lookup_elem(&wx_exe_cache, key);
	if (exe) {
		__u64 len = exe_cache_len(exe->len);
		bpf_probe_read_kernel(&s->record[WX_RECORD_FIXED_SIZE], len, exe->path);
		r->exe_len = len;
		r->size += len;
		if (exe->truncated)
			r->flags |= WX_F_EXE_TRUNCATED;
	}
	__u32 size = (r->size + WX_RECORD_ALIGN - 1) & ~(WX_RECORD_ALIGN - 1);
	asm volatile("%[size] &= 1023" : [size] "+r"(size));
	if (size < WX_RECORD_FIXED_SIZE || bpf_ringbuf_output(&wx_events, r, size, BPF_RB_FORCE_WAKEUP))
		count(WX_CNT_LOST);
	return 0;
}

SEC("syscall")
int flush_summaries(struct wx_flush_args *args)
{
	__u32 slot;
	struct wx_scratch *s = slot_take(&slot);
	if (!s)
		return 0;
	struct share_flush f = { .now = bpf_ktime_get_ns(), .slot = slot, .force = args ? args->force : 0 };
	bpf_for_each_map_elem(&wx_shares, flush_one_share, &f, 0);
	slot_put(s);
	return 0;
}

#endif /* WXWATCH_RECORD_BPF_H */
