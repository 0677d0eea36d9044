/* tracepoint mode: the mmap_lock tracepoints. When a task takes its mm's lock for writing in a
 * call that creates or changes mappings (any ABI, exec included), the VMAs the call may change
 * are read from the maple tree; when it releases the lock, still held, they are read again and
 * each VMA whose protection changed is judged on what the kernel did, not on what was asked.
 * Mappings are judged on the VMA the call stored (maple_tree's ma_write tracepoint). When a
 * task takes another mm's lock for reading in a call that writes into it (/proc/PID/mem,
 * ptrace pokes, process_vm_writev), the written range is judged while the lock is held. No
 * syscall tracepoint: other system calls pay nothing. Tracepoints run with preemption off. */
#ifndef WXWATCH_SECTIONS_BPF_H
#define WXWATCH_SECTIONS_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "alias.bpf.h"
#include "filters.bpf.h"
#include "kernel.bpf.h"
#include "maple.bpf.h"
#include "record.bpf.h"
#include "syscall.bpf.h"
#include "writes.bpf.h"
#include "wxwatch.h"

#define PAGE_SIZE 4096ULL

/* 24 bytes: the section, with 256 of these, must stay under the 8 KiB a task storage value may
 * have on Debian's newest kernels. */
struct wx_prev {
	__u64 start;
	__u64 flags;
	__u32 pages;   /* its length */
	__u32 written; /* WX_F_WRITTEN if it had an anon_vma then: after the call it may have merged
			* with a written neighbour and have one it never earned */
};

/* One write-locked section of one of our calls, from the lock's acquisition to its release. */
struct wx_section {
	__u64 mm;             /* 0: no section open */
	struct wx_call call;
	__u64 start;          /* change calls: the range, page aligned */
	__u64 end;
	__u64 stored;         /* create calls: start of the last VMA stored in the tree, or 0 */
	__u32 nvmas;
	__u32 overflow;       /* the range has more VMAs than vmas[] holds */
	__u64 snap_end;       /* where the VMAs past the snapshot begin */
	struct wx_tally tally;
	struct wx_prev vmas[WX_SNAPSHOT_VMAS];
};

/* Sections open on the whole host. The lock tracepoints fire for every mmap lock of every
 * process: when none of ours is open (the usual case), release returns before any lookup. A
 * count that stays high only costs that shortcut, never a judgment. */
__u64 open_sections = 0;

/* Per task: it dies with the thread, so no other thread can ever read it. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct wx_section);
} wx_sections SEC(".maps");

/* A walk over the section's VMAs: the state a bpf_loop callback carries, kept small (the stack
 * is shared by the hook, the callback and the record builder's frames: 512 bytes in all); the
 * section itself is the task's, looked up again in each step. */
struct walk {
	__u64 cur;
	__u32 slot;
	__u32 done; /* the range was walked to its end */
};

static __always_inline struct wx_section *current_section(void)
{
	return bpf_task_storage_get(&wx_sections, bpf_get_current_task_btf(), 0, 0);
}

/* Remembers the i-th VMA the range may change, as it is before the call: every VMA that
 * intersects it, past gaps (PROT_GROWSDOWN moves the start down to a VMA past one; any other
 * gap stops mprotect, and what it did not reach is unchanged and reports nothing). */
static long snapshot_step(__u32 i, void *data)
{
	struct walk *w = data;
	struct wx_section *sec = current_section();
	struct wx_scratch *s = slot_at(w->slot);
	struct vma_read v = {};
	if (!s || !sec || w->cur >= sec->end || vma_from(&s->node, sec->mm, w->cur, &v) || v.start >= sec->end)
		return 1;
	if (i >= WX_SNAPSHOT_VMAS) {
		sec->overflow = 1;
		return 1;
	}
	struct wx_prev *p = &sec->vmas[i & (WX_SNAPSHOT_VMAS - 1)];
	p->start = v.start;
	p->pages = (v.end - v.start) >> 12;
	p->flags = v.flags;
	struct vm_area_struct *vma = v.vma; /* a local: CORE_READ would relocate v.vma too */
	p->written = BPF_CORE_READ(vma, anon_vma) ? WX_F_WRITTEN : 0;
	sec->nvmas = i + 1;
	sec->snap_end = v.end;
	w->cur = v.end;
	return 0;
}

static __always_inline void change_of(struct wx_change *c, struct wx_section *sec, struct vma_read *post,
				      __u64 prev_start, __u64 prev_end, __u64 prev_flags)
{
	c->addr = sec->call.addr;
	c->len = sec->call.len;
	c->prot = sec->call.prot;
	c->syscall = sec->call.syscall;
	c->vma_start = prev_start;
	c->vma_end = prev_end;
	c->prev_flags = prev_flags;
	c->new_flags = post->flags;
	c->file = post->file;
	if (sec->call.compat)
		c->flags |= WX_F_COMPAT;
	if (!(sec->call.prot & PROT_EXEC) && (post->flags & VM_EXEC))
		c->flags |= WX_F_READ_IMPLIES_EXEC;
}

/* The VM_* bits a request sets (calc_vm_prot_bits), EXEC included when the personality adds it. */
static __always_inline __u64 requested_flags(struct wx_section *sec)
{
	__s32 prot = sec->call.prot;
	__u64 f = (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);
	if (prot & PROT_READ && bpf_get_current_task_btf()->personality & READ_IMPLIES_EXEC)
		f |= VM_EXEC;
	return f;
}

/* A VMA that became executable (or writable and executable): its alert, its kind of memory and
 * its aliases. Returns whether it is worth a record. */
static __always_inline int judge_exec(struct wx_scratch *s, __u32 slot, struct wx_change *c, struct vma_read *post,
				      __u64 prev_flags, __u32 prev_written, __u64 range_start, __u64 range_end)
{
	c->alert = judge(prev_flags, post->flags);
	int gained = !(prev_flags & VM_EXEC) && (post->flags & VM_EXEC);
	if (gained)
		c->flags |= prev_written | (memory_flags(post->vma, post->file) & WX_F_IN_MEMORY_FILE);
	judge_alias(s, slot, post->vma, post->file, post->start, range_start, range_end, post->flags, gained);
	return c->alert || (c->flags & WX_F_WRITABLE_ALIAS);
}

/* Judges the i-th remembered VMA against what it is now. */
static long judge_step(__u32 i, void *data)
{
	struct walk *w = data;
	struct wx_section *sec = current_section();
	struct wx_scratch *s = slot_at(w->slot);
	if (!s || !sec || i >= sec->nvmas)
		return 1;
	struct wx_prev *prev = &sec->vmas[i & (WX_SNAPSHOT_VMAS - 1)];
	__u64 prev_start = prev->start, prev_end = prev->start + ((__u64)prev->pages << 12), prev_flags = prev->flags;
	__u32 prev_written = prev->written;
	__u64 probe = prev_start > sec->start ? prev_start : sec->start;
	__u64 until = prev_end < sec->end ? prev_end : sec->end;
	struct vma_read *post = &s->vma; /* in the slot: the stack is shared with emit's frames */
	if (probe >= sec->end || vma_at(&s->node, sec->mm, probe, post))
		return 0;
	struct wx_change *c = &s->change;
	__builtin_memset(c, 0, sizeof(*c));
	if ((prev_flags & VM_ACCESS) == (post->flags & VM_ACCESS)) {
		/* Not changed. Asked for and refused (or never reached): a denied attempt. */
		if (emit_denied) {
			__u64 asked = (prev_flags & ~VM_ACCESS) | requested_flags(sec);
			c->alert = judge(prev_flags, asked);
			if (c->alert) {
				change_of(c, sec, post, prev_start, prev_end, prev_flags);
				c->new_flags = asked;
				c->flags |= WX_F_DENIED;
				emit(s, w->slot, c, &sec->tally);
			}
		}
		return 0;
	}
	if (!judge_exec(s, w->slot, c, post, prev_flags, prev_written, probe, until))
		return 0;
	change_of(c, sec, post, prev_start, prev_end, prev_flags);
	emit(s, w->slot, c, &sec->tally);
	return 0;
}

/* Past a full snapshot the state before is unknown: a VMA that now has exactly what was asked
 * for may have been changed by this call. It is reported, flagged, never dropped. */
static long overflow_step(__u32 i, void *data)
{
	struct walk *w = data;
	struct wx_section *sec = current_section();
	struct wx_scratch *s = slot_at(w->slot);
	if (!s || !sec)
		return 1;
	struct vma_read *post = &s->vma;
	if (w->cur >= sec->end || vma_from(&s->node, sec->mm, w->cur, post) || post->start >= sec->end) {
		w->done = 1;
		return 1;
	}
	w->cur = post->end;
	if (!(post->flags & VM_EXEC) || (post->flags & VM_ACCESS) != requested_flags(sec))
		return 0;
	struct wx_change *c = &s->change;
	__builtin_memset(c, 0, sizeof(*c));
	c->alert = post->flags & VM_WRITE ? WX_ALERT_MPROT_X_ADD : WX_ALERT_MPROT_W_REM;
	c->flags = WX_F_PREV_UNKNOWN | memory_flags(post->vma, post->file);
	change_of(c, sec, post, post->start, post->end, 0);
	emit(s, w->slot, c, &sec->tally);
	return 0;
}

static __always_inline void judge_change_section(struct wx_section *sec, __u32 slot)
{
	struct walk w = { .slot = slot };
	bpf_loop(WX_SNAPSHOT_VMAS, judge_step, &w, 0);
	if (sec->overflow) {
		count(WX_CNT_VMA_TRUNCATED);
		w.cur = sec->snap_end;
		bpf_loop(WX_WALK_MAX, overflow_step, &w, 0);
		if (!w.done)
			count(WX_CNT_UNWALKED);
	}
}

/* mmap, shmat, exec: the VMA the call stored, if it is executable, or shared and may write
 * (then its executable aliases are looked for: the exec-first order). */
static __always_inline void judge_create_section(struct wx_section *sec, __u32 slot)
{
	struct wx_scratch *s = slot_at(slot);
	if (!s)
		return;
	struct vma_read *v = &s->vma;
	int fixed = (sec->call.map_flags & MAP_FIXED) && sec->call.kind == WX_CALL_CREATE &&
		    sec->call.syscall != WX_SYS_EXECVE && sec->call.syscall != WX_SYS_EXECVEAT;
	__u64 at = fixed ? sec->call.addr : sec->stored;
	if (!sec->stored || vma_at(&s->node, sec->mm, at, v))
		return;
	if (!(v->flags & VM_EXEC) && (v->flags & (VM_SHARED | VM_MAYWRITE)) != (VM_SHARED | VM_MAYWRITE))
		return;
	struct wx_change *c = &s->change;
	__builtin_memset(c, 0, sizeof(*c));
	if (v->flags & VM_EXEC) {
		c->alert = v->flags & VM_WRITE ? WX_ALERT_MMAP_W_X : WX_ALERT_NONE;
		/* a new mapping is not written yet (a merged neighbour's anon_vma says nothing of it) */
		c->flags |= memory_flags(v->vma, v->file) & WX_F_IN_MEMORY_FILE;
	}
	judge_alias(s, slot, v->vma, v->file, v->start, v->start, v->end, v->flags, (v->flags & VM_EXEC) != 0);
	if (!c->alert && !(c->flags & (WX_F_WRITABLE_ALIAS | WX_F_IN_MEMORY_FILE | WX_F_WRITTEN)))
		return;
	change_of(c, sec, v, v->start, v->end, 0);
	c->addr = at;
	emit(s, slot, c, &sec->tally);
}

/* A read lock of another mm (or of its own, through /proc/self/mem) in a call that writes into
 * it: judged now, with the lock held, once per call. */
static __always_inline int on_read_lock(struct task_struct *task, __u64 lock_mm, struct wx_call *call)
{
	struct wx_write w;
	current_call(task, call);
	if (decode_write(task, call, lock_mm, &w) || same_write(task, call, &w) || skip_process(task))
		return 0;
	__u32 slot;
	struct wx_scratch *s = slot_take_or_count(&slot);
	if (!s)
		return 0;
	judge_write(s, slot, task, lock_mm, w.addr, w.len, &w, call->syscall);
	slot_done(s, slot);
	return 0;
}

static __always_inline int on_lock_acquired(__u64 lock_mm, __u64 write, __u64 success)
{
	if (!success)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct wx_call call = {};
	struct pt_regs *regs = call_number(task, &call);
	if (!write) {
		if (call.kind == WX_CALL_WRITE || call.kind == WX_CALL_PTRACE || call.kind == WX_CALL_PROCESS_VM)
			return on_read_lock(task, lock_mm, &call);
		return 0;
	}
	if (call.kind != WX_CALL_CHANGE && call.kind != WX_CALL_CREATE)
		return 0;
	struct mm_struct *mm = task->mm;
	if (!mm || (__u64)mm != lock_mm)
		return 0; /* e.g. an execve building the new mm before it is the task's */
	/* the cheap exits first: most write-locked sections of these calls ask for nothing
	 * executable */
	if (!may_matter_early(task, regs, &call) || call_args(regs, &call) == WX_CALL_NONE || !may_matter(task, &call) ||
	    skip_process(task))
		return 0;
	struct wx_section *sec = bpf_task_storage_get(&wx_sections, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!sec) {
		/* not judged: in the books as a candidate lost for want of room, and said why */
		count(WX_CNT_NO_STATE);
		count(WX_CNT_SEEN);
		count(WX_CNT_LOST_BUSY);
		return 0;
	}
	if (!sec->mm)
		__sync_fetch_and_add(&open_sections, 1);
	sec->mm = (__u64)mm;
	sec->call = call;
	sec->stored = 0;
	sec->nvmas = 0;
	sec->overflow = 0;
	sec->tally.records = 0;
	if (call.kind == WX_CALL_CHANGE) {
		sec->start = call.addr & ~(PAGE_SIZE - 1);
		sec->end = sec->start + ((call.len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1));
		sec->snap_end = sec->start;
		__u32 slot;
		struct wx_scratch *s = slot_take(&slot);
		if (!s) {
			/* no node buffer to read the tree with: everything in the range is judged on its
			 * state after the call, flagged */
			sec->overflow = 1;
			return 0;
		}
		struct walk w = { .cur = sec->start, .slot = slot };
		bpf_loop(WX_SNAPSHOT_VMAS + 1, snapshot_step, &w, 0);
		slot_done(s, slot);
	}
	return 0;
}

SEC("raw_tp/ma_write")
int raw_tp__ma_write(struct bpf_raw_tracepoint_args *ctx)
{
	/* (fn, mas, piv, entry): a create call stores its new VMA while holding the lock. */
	if (!ctx->args[3] || !open_sections)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct wx_section *sec = bpf_task_storage_get(&wx_sections, task, 0, 0);
	if (!sec || !sec->mm || sec->call.kind != WX_CALL_CREATE)
		return 0;
	struct ma_state *mas = (void *)ctx->args[1];
	if ((__u64)BPF_CORE_READ(mas, tree) != sec->mm + bpf_core_field_offset(struct mm_struct, mm_mt))
		return 0; /* another tree (the detached VMAs of a MAP_FIXED replace, or not a VMA tree) */
	sec->stored = BPF_CORE_READ(mas, index);
	return 0;
}

/* Runs while the lock is still held. */
static __always_inline int on_lock_released(__u64 lock_mm)
{
	if (!open_sections)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct wx_section *sec = bpf_task_storage_get(&wx_sections, task, 0, 0);
	if (!sec || !sec->mm || sec->mm != lock_mm)
		return 0;
	struct mm_struct *mm = task->mm;
	__u8 ia32 = 0;
	__s32 nr = call_nr(task, &ia32);
	/* The section must be this call's: same mm, same system call (its registers, never the
	 * user memory an argument block may sit in). */
	if ((__u64)mm == sec->mm && nr == sec->call.nr && ia32 == sec->call.ia32) {
		__u32 slot;
		struct wx_scratch *s = slot_take(&slot);
		if (s) {
			if (sec->call.kind == WX_CALL_CHANGE)
				judge_change_section(sec, slot);
			else
				judge_create_section(sec, slot);
			flush_tally(slot, &sec->tally, sec->call.syscall);
			slot_done(s, slot);
		} else {
			count(WX_CNT_NO_STATE);
			count(WX_CNT_SEEN);
			count(WX_CNT_LOST_BUSY);
		}
	}
	sec->mm = 0;
	__sync_fetch_and_sub(&open_sections, 1);
	return 0;
}

/* The mmap_lock tracepoints: (mm, write, success) and (mm, write) since 6.10; before, a memcg
 * path comes second. User space loads the pair that matches the kernel. */
SEC("raw_tp/mmap_lock_acquire_returned")
int raw_tp__mmap_lock_acquire_returned(struct bpf_raw_tracepoint_args *ctx)
{
	return on_lock_acquired(ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("raw_tp/mmap_lock_released")
int raw_tp__mmap_lock_released(struct bpf_raw_tracepoint_args *ctx)
{
	return on_lock_released(ctx->args[0]);
}

SEC("raw_tp/mmap_lock_acquire_returned")
int raw_tp__mmap_lock_acquire_returned_memcg(struct bpf_raw_tracepoint_args *ctx)
{
	return on_lock_acquired(ctx->args[0], ctx->args[2], ctx->args[3]);
}

SEC("raw_tp/mmap_lock_released")
int raw_tp__mmap_lock_released_memcg(struct bpf_raw_tracepoint_args *ctx)
{
	return on_lock_released(ctx->args[0]);
}

#endif /* WXWATCH_SECTIONS_BPF_H */
