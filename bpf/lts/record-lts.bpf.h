/* A record for kernels before 6.0 (Debian 11's 5.10 and up): the same struct wx_record as
 * bpf/record.bpf.h writes, built without what those kernels lack — bpf_loop (bounded loops
 * instead), bpf_get_current_task_btf (every task field through BPF_CORE_READ), compare-and-swap
 * and fetching atomics (5.12). The code a record carries is read as record.bpf.h reads it, with
 * the same budget. What it does not do, and says so in the books: fair shares between
 * processes (the ring fills first: counted as lost). Per
 * call, as the main object: WX_CALL_RECORDS records one by one, the rest in summaries.
 *
 * Work slots: WX_SLOTS_PER_CPU per CPU, taken with plain stores. The kernels this object is for
 * run trampoline programs with migration disabled and, on the LTS distributions' builds
 * (PREEMPT_VOLUNTARY / PREEMPT_NONE), are not preempted inside one. */
#ifndef WXWATCH_RECORD_LTS_BPF_H
#define WXWATCH_RECORD_LTS_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "alias-walk.bpf.h"
#include "code-window.bpf.h"
#include "counters.bpf.h"
#include "kernel.bpf.h"
#include "memory.bpf.h"
#include "wxwatch.h"

#define LTS_PATH_DEPTH 32  /* components of a path; deeper ones keep their last 32 (flagged) */
#define LTS_NAME_MAX 255
#define LTS_RECORD_BUF 131072 /* power of two above WX_RECORD_MAX_SIZE: offsets are masked with it */

/* Set between open and load, as the main object's (native/bpf_program.cc sets both alike). */
const volatile __u64 wakeup_bytes = 0;
const volatile __u64 ring_bytes = 0;
const volatile __u8 dedup = 1;
const volatile __u32 capture_bytes = 0;
const volatile __u8 emit_denied = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* resized at load */
} wx_events SEC(".maps");

/* What a hook saw change in one VMA. */
struct lts_change {
	__u64 addr;
	__u64 len;
	__u64 vma_start;
	__u64 vma_end;
	__u64 prev_flags;
	__u64 new_flags;
	struct file *file;
	__s64 ret;
	__s32 prot;
	__u32 alert;
	__u32 flags;
	__u32 summary_count; /* WX_F_SUMMARY: how many changes it stands for */
	__u16 syscall;
	__u8 event;          /* enum wx_event */
	__u8 route;          /* write events: enum wx_route */
	__u8 rule;           /* WX_F_BLOCKED: enum wx_rule */
	__u8 _pad[3];
	struct mm_struct *target_mm; /* write events: the mm written */
	__u64 code_src;              /* write events: where the bytes written can be read (0: not known) */
	__u64 poke;                  /* a ptrace poke's data: code_src points here */
	__u8 code_kernel;            /* code_src is kernel memory */
	__u8 _pad2[7];
	__u64 alias_start;           /* WX_F_WRITABLE_ALIAS: the other view found first */
	__u64 alias_end;
	__s32 writable_maps;         /* the file's other views of the kind looked for */
	__u32 alias_pid;
};

struct lts_dedup_key {
	__u64 start_boot_ns;
	__u64 exec_id;
	__u64 inode;
	__u32 tgid;
	__u32 dev;
	__u32 alert;
	__u32 flags;
	__u8 region;
	__u8 event;
	__u8 route;
	__u8 _pad[5];
};

#define LTS_DEDUP_FLAGS \
	(WX_F_DENIED | WX_F_BLOCKED | WX_F_WRITTEN | WX_F_IN_MEMORY_FILE | WX_F_WRITABLE_ALIAS | WX_F_ALIAS_EXEC_FIRST)

/* What one call writes one by one, and per alert kind what it counted past that (record.bpf.h's
 * struct wx_tally). */
#define LTS_TALLY_KINDS 8

struct lts_tally_kind {
	__u64 count;
	__u64 first;
	__u64 last;
	__u32 flags;
	__u32 _pad;
};

struct lts_tally {
	__u32 records;
	__u32 _pad;
	struct lts_tally_kind kind[LTS_TALLY_KINDS];
};

struct lts_scratch {
	__u32 busy;
	/* the path walk's state, here and not on the stack: each step then starts from the same
	 * verifier state (unknown values in a map value), and is checked once, not per branch */
	__u32 path_off;
	__u32 path_complete;
	__u32 index; /* this slot's key in wx_scratch */
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	/* the code copy's state, here for the same reason */
	__u32 code_at;
	__u32 code_missing;
	__u64 code_from;
	__u64 code_window_start; /* the capture budget: this slot's window, and what it copied in it */
	__u64 code_spent;
	struct lts_change change;
	struct lts_dedup_key key;
	struct alias_walk walk; /* here for the same reason as the path walk's state */
	char path[WX_PATH_MAX + LTS_NAME_MAX + 1];
	char record[LTS_RECORD_BUF + WX_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WX_SLOTS_PER_CPU); /* CPUs × WX_SLOTS_PER_CPU, set at load */
	__type(key, __u32);
	__type(value, struct lts_scratch);
} wx_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct lts_dedup_key);
	__type(value, __u8);
} wx_dedup SEC(".maps");

static __always_inline struct task_struct *current_task(void)
{
	return (struct task_struct *)bpf_get_current_task();
}

/* A free slot of this CPU, or NULL (the caller counts the loss). */
static __always_inline struct lts_scratch *lts_slot_take(void)
{
	__u32 base = bpf_get_smp_processor_id() * WX_SLOTS_PER_CPU;
#pragma unroll
	for (__u32 k = 0; k < WX_SLOTS_PER_CPU; k++) {
		__u32 i = base + k;
		struct lts_scratch *s = bpf_map_lookup_elem(&wx_scratch, &i);
		if (s && !s->busy) {
			s->busy = 1;
			s->index = i;
			return s;
		}
	}
	return 0;
}

static __always_inline void lts_slot_put(struct lts_scratch *s)
{
	s->busy = 0;
}

/* A free slot of this CPU with its change cleared, or NULL with the change counted seen and
 * lost (every slot held). */
static __always_inline struct lts_scratch *lts_slot_or_count(void)
{
	struct lts_scratch *s = lts_slot_take();
	if (!s) {
		count(WX_CNT_SEEN);
		count(WX_CNT_LOST_BUSY);
		return 0;
	}
	__builtin_memset(&s->change, 0, sizeof(s->change));
	return s;
}

/* One step of the path walk (as record.bpf.h's path_step): 1 when done. */
static __always_inline int lts_path_step(struct lts_scratch *s)
{
	struct dentry *dentry = s->dentry;
	struct vfsmount *vfsmnt = s->vfsmnt;
	struct mount *mnt = s->mnt;
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	int last = 0;
	if (dentry == mnt_root) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
		if (mnt == up) {
			s->path_complete = 1;
			return 1;
		}
		s->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		s->mnt = up;
		s->vfsmnt = (void *)up + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	if (dentry == parent) {
		if (s->path_off != WX_PATH_MAX) {
			s->path_complete = 1;
			return 1;
		}
		last = 1;
	}
	__u32 len = BPF_CORE_READ(dentry, d_name.len);
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	if (len > LTS_NAME_MAX)
		len = LTS_NAME_MAX;
	__u32 off = s->path_off;
	if (off < len + 2 || off > WX_PATH_MAX)
		return 1;
	off -= len;
	bpf_probe_read_kernel(&s->path[off & (WX_PATH_MAX - 1)], len & LTS_NAME_MAX, name);
	off -= 1;
	s->path[off & (WX_PATH_MAX - 1)] = '/';
	s->path_off = off;
	s->dentry = parent;
	if (last)
		s->path_complete = 1;
	return last;
}

/* The path of *path onto the record at at (as record.bpf.h's append_path); its length. */
static __always_inline __u32 lts_append_path(struct lts_scratch *s, __u32 at, struct path *path)
{
	s->dentry = BPF_CORE_READ(path, dentry);
	s->vfsmnt = BPF_CORE_READ(path, mnt);
	s->mnt = real_mount(s->vfsmnt);
	s->path_off = WX_PATH_MAX;
	s->path_complete = 0;
	/* Unrolled: 5.10's verifier refuses a loop whose back edge clang makes a fall-through. */
#pragma unroll
	for (int i = 0; i < LTS_PATH_DEPTH; i++)
		if (lts_path_step(s))
			break;
	__u32 off = s->path_off;
	if (off >= WX_PATH_MAX) {
		off = WX_PATH_MAX - 1;
		s->path[off] = '/';
	}
	__u32 len = WX_PATH_MAX - off;
	if (len > WX_PATH_MAX - 1)
		len = WX_PATH_MAX - 1;
	bpf_probe_read_kernel(&s->record[at & (LTS_RECORD_BUF - 1)], len & (WX_PATH_MAX - 1),
			      &s->path[(WX_PATH_MAX - len) & (WX_PATH_MAX - 1)]);
	return len;
}

/* The process (record.bpf.h's fill_task, every field read through CO-RE). */
static __always_inline void lts_fill_task(struct wx_record *r, struct task_struct *task)
{
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	r->host_pid = BPF_CORE_READ(task, tgid);
	r->host_tid = BPF_CORE_READ(task, pid);
	r->host_ppid = BPF_CORE_READ(parent, tgid);
	r->thread_start_boot_ns = BPF_CORE_READ(task, start_boottime);
	r->leader_start_boot_ns = BPF_CORE_READ(leader, start_boottime);
	r->parent_start_boot_ns = BPF_CORE_READ(parent, group_leader, start_boottime);
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	r->uid = (__u32)bpf_get_current_uid_gid();
	r->cgroup_id = bpf_get_current_cgroup_id();
	r->cpu = bpf_get_smp_processor_id();
	r->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	struct pid *tp = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(tp, level);
	struct upid *u = (void *)tp + bpf_core_field_offset(struct pid, numbers) + level * bpf_core_type_size(struct upid);
	struct pid_namespace *ns = BPF_CORE_READ(u, ns);
	r->pid_ns = BPF_CORE_READ(ns, ns.inum);
	r->ns_tid = BPF_CORE_READ(u, nr);
	r->ns_pid = pid_nr_at(BPF_CORE_READ(leader, thread_pid), level, ns);
	r->ns_ppid = pid_nr_at(BPF_CORE_READ(parent, group_leader, thread_pid), level, ns);
}

/* The region (record.bpf.h's fill_region). */
static __always_inline void lts_fill_region(struct wx_record *r, struct mm_struct *mm, struct lts_change *c)
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

/* Write records: the process whose memory was written (record.bpf.h's fill_target). */
static __always_inline void lts_fill_target(struct lts_scratch *s, struct wx_record *r, struct mm_struct *target, __u32 *at)
{
	if (!target || !bpf_core_field_exists(struct mm_struct, owner))
		return;
	struct task_struct *owner = BPF_CORE_READ(target, owner);
	if (!owner)
		return;
	r->target_pid = BPF_CORE_READ(owner, tgid);
	r->target_start_boot_ns = BPF_CORE_READ(owner, group_leader, start_boottime);
	bpf_probe_read_kernel_str(r->target_comm, sizeof(r->target_comm), BPF_CORE_READ(owner, comm));
	struct file *exe = BPF_CORE_READ(target, exe_file);
	if (!exe)
		return;
	struct path ep = BPF_CORE_READ(exe, f_path);
	r->target_exe_len = lts_append_path(s, *at, &ep);
	*at += r->target_exe_len;
}

/* "parent/leaf" of the task's cgroup v2 node (record.bpf.h's append_cgroup). */
static __always_inline __u32 lts_append_cgroup(struct lts_scratch *s, __u32 at, struct task_struct *task)
{
	struct kernfs_node *leaf = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	struct kernfs_node *parent = kernfs_parent(leaf);
	__u32 len = 0;
	if (!parent)
		return 0;
	if (kernfs_parent(parent)) {
		long n = bpf_probe_read_kernel_str(&s->record[at & (LTS_RECORD_BUF - 1)], WX_CGROUP_NAME_MAX,
						   BPF_CORE_READ(parent, name));
		if (n > 1) {
			len = n - 1;
			s->record[(at + len) & (LTS_RECORD_BUF - 1)] = '/';
			len++;
		}
	}
	long n = bpf_probe_read_kernel_str(&s->record[(at + len) & (LTS_RECORD_BUF - 1)], WX_CGROUP_NAME_MAX,
					   BPF_CORE_READ(leaf, name));
	if (n > 1)
		len += n - 1;
	return len;
}

/* One page of the code window (record.bpf.h's code_page), on the slot's copy state: 1 when done. */
static __always_inline int lts_code_page(struct lts_scratch *s, __u32 i, __u32 window, int kernel)
{
	__u32 off = i * WX_CODE_PAGE;
	if (off >= window)
		return 1;
	__u32 n = window - off;
	if (n > WX_CODE_PAGE)
		n = WX_CODE_PAGE;
	asm volatile("%[n] &= 8191" : [n] "+r"(n));
	if (n == 0 || n > WX_CODE_PAGE)
		return 1;
	void *dst = &s->record[s->code_at & (LTS_RECORD_BUF - 1)];
	long err = kernel ? bpf_probe_read_kernel(dst, n, (void *)(s->code_from + off))
			  : bpf_probe_read_user(dst, n, (void *)(s->code_from + off));
	if (err)
		s->code_missing |= 1u << (i & 31);
	else
		s->code_at += n;
	return 0;
}

/* The window's pages, into the slot keyed index from its code_at on. A global function: 5.10's
 * verifier checks it once per program, not at each of the lts_emit calls it would be inlined in
 * (inlined, a load took ~8 s longer in the TCG guest). */
__noinline int lts_copy_code(__u32 index, __u32 window, __u32 kernel)
{
	struct lts_scratch *s = bpf_map_lookup_elem(&wx_scratch, &index);
	if (!s)
		return 0;
#pragma unroll
	for (__u32 i = 0; i < WX_CODE_MAX / WX_CODE_PAGE; i++)
		if (lts_code_page(s, i, window, kernel))
			break;
	return 0;
}

/* The code a change made executable (the part of its range inside the VMA), or the bytes a
 * write event wrote, up to capture_bytes, appended at byte at (record.bpf.h's append_code,
 * with the same budget: WX_CODE_BUDGET per slot per 100 ms). */
static __always_inline __u32 lts_append_code(struct lts_scratch *s, struct wx_record *r, struct lts_change *c, __u32 at)
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
	s->code_at = at;
	s->code_missing = 0;
	s->code_from = from;
	lts_copy_code(s->index, window, c->code_kernel);
	r->code_addr = c->event == WX_EVENT_WRITE ? c->addr : from;
	r->code_window = window;
	r->code_missing = s->code_missing;
	r->code_len = s->code_at - at;
	return r->code_len;
}

/* The slot's change as a record in the ring, or counted: seen = emitted + filtered +
 * suppressed + lost, as the main object's books. */
static __always_inline void lts_emit_record(struct lts_scratch *s, struct lts_tally *tally, const int summary)
{
	struct lts_change *c = &s->change;
	struct wx_record *r = (void *)s->record;
	struct task_struct *task = current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__builtin_memset(r, 0, sizeof(*r));
	count(WX_CNT_SEEN);
	if (!summary && (c->flags & (WX_F_PREV_UNKNOWN | WX_F_OUTCOME_LATE | WX_F_ALIAS_UNSURE | WX_F_RANGE_UNSURE)))
		count(WX_CNT_DEGRADED);
	lts_fill_region(r, c->event == WX_EVENT_WRITE && c->target_mm ? c->target_mm : mm, c);
	__u64 leader_start = BPF_CORE_READ(task, group_leader, start_boottime);
	__u64 exec_id = BPF_CORE_READ(task, self_exec_id);
	struct lts_dedup_key *key = &s->key;
	if (dedup && !summary) {
		__builtin_memset(key, 0, sizeof(*key));
		key->start_boot_ns = leader_start;
		key->exec_id = exec_id;
		key->tgid = BPF_CORE_READ(task, tgid);
		key->alert = c->alert;
		key->flags = c->flags & LTS_DEDUP_FLAGS;
		key->region = r->region;
		key->event = c->event;
		key->route = c->route;
		key->dev = r->dev;
		key->inode = r->inode;
		if (bpf_map_lookup_elem(&wx_dedup, key)) {
			count(WX_CNT_SUPPRESSED);
			return;
		}
	}
	if (tally && !summary) {
		if (tally->records >= WX_CALL_RECORDS) {
			struct lts_tally_kind *k = &tally->kind[c->alert & (LTS_TALLY_KINDS - 1)];
			if (k->count++ == 0)
				k->first = c->vma_start;
			k->last = c->vma_end;
			k->flags |= c->flags;
			count(WX_CNT_THROTTLED);
			return;
		}
		tally->records++;
	}
	r->alert = c->alert;
	r->summary_count = c->summary_count;
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
	r->flags |= c->flags;
	r->event = c->event;
	r->route = c->route;
	r->rule = c->rule;
	r->writable_maps = c->writable_maps;
	r->alias_start = c->alias_start;
	r->alias_end = c->alias_end;
	r->alias_pid = c->alias_pid;
	lts_fill_task(r, task);

	__u32 at = WX_RECORD_FIXED_SIZE;
	long n = bpf_probe_read_kernel_str(&s->record[at], WX_UTS_LEN, BPF_CORE_READ(task, nsproxy, uts_ns, name.nodename));
	r->uts_len = n > 1 ? n - 1 : 0;
	at += r->uts_len;
	struct file *file = c->file; /* a local: BPF_CORE_READ(c->file) would relocate c's field too */
	if (file && !summary) {
		struct path fp = BPF_CORE_READ(file, f_path);
		r->path_len = lts_append_path(s, at, &fp);
		if (!s->path_complete)
			r->flags |= WX_F_PATH_TRUNCATED;
		at += r->path_len;
	}
	struct file *exe = BPF_CORE_READ(mm, exe_file);
	if (exe) {
		if (BPF_CORE_READ(exe, f_inode, i_nlink) == 0)
			r->flags |= WX_F_EXE_DELETED;
		struct path ep = BPF_CORE_READ(exe, f_path);
		r->exe_len = lts_append_path(s, at, &ep);
		if (!s->path_complete)
			r->flags |= WX_F_EXE_TRUNCATED;
		at += r->exe_len;
	}
	r->cgroup_len = lts_append_cgroup(s, at, task);
	at += r->cgroup_len;
	if (c->event == WX_EVENT_WRITE)
		lts_fill_target(s, r, c->target_mm, &at);
	/* Evidence: the code a change made executable, or the bytes a write wrote. */
	if (capture_bytes && !summary && !(c->flags & WX_F_DENIED) &&
	    (c->event == WX_EVENT_WRITE || c->alert == WX_ALERT_MPROT_W_REM ||
	     (c->flags & (WX_F_WRITABLE_ALIAS | WX_F_BLOCKED | WX_F_WRITTEN | WX_F_IN_MEMORY_FILE))))
		at += lts_append_code(s, r, c, at);

	__u32 size = (at + WX_RECORD_ALIGN - 1) & ~(WX_RECORD_ALIGN - 1);
	asm volatile("%[size] &= 131071" : [size] "+r"(size));
	if (size > WX_RECORD_MAX_SIZE || size < WX_RECORD_FIXED_SIZE) {
		count(WX_CNT_LOST); /* cannot happen; if it did, the books still balance */
		return;
	}
	r->size = at;
	__u64 queued = bpf_ringbuf_query(&wx_events, BPF_RB_AVAIL_DATA);
	__u64 wake = queued + size >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&wx_events, r, size, wake)) {
		count(WX_CNT_LOST);
		return;
	}
	if (dedup && !summary) {
		__u8 one = 1;
		bpf_map_update_elem(&wx_dedup, key, &one, BPF_ANY);
	}
}

/* A change's record. */
static __always_inline void lts_emit(struct lts_scratch *s, struct lts_tally *tally)
{
	lts_emit_record(s, tally, 0);
}

/* A summary's (WX_F_SUMMARY): its members were counted each; no path, code or dedup. A constant
 * here, so that the summaries' copies carry none of that for 5.10's verifier to walk. */
static __always_inline void lts_emit_summary(struct lts_scratch *s)
{
	lts_emit_record(s, 0, 1);
}

#endif /* WXWATCH_RECORD_LTS_BPF_H */
