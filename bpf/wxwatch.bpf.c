// SPDX-License-Identifier: GPL-2.0
/* wxwatch kernel side: sees every change that makes memory executable, judged the way Tracee's
 * mem_prot_alert does but on what the kernel actually applied, and writes one record per VMA.
 *
 * Two ways to see a change, both while the mmap lock is held for writing, so that nothing else
 * can change the VMAs between what we read and what the kernel does:
 *  - tracepoint mode: the mmap_lock tracepoints. When a task takes its mm's lock for writing
 *    inside mprotect/pkey_mprotect (any ABI), the VMAs of the range are read from the maple
 *    tree; when it releases the lock, they are read again and each VMA whose protection
 *    changed is judged. mmap-like calls are judged on the VMA they stored (maple_tree's
 *    ma_write tracepoint). No syscall tracepoint: other system calls pay nothing.
 *  - lsm-hook mode: BPF trampolines on mprotect_fixup (entry: the VMA before; exit: whether
 *    the change was applied) and mmap_region (exit: the new mapping), and the outcome of
 *    security_file_mprotect for refused calls. Fewer events than the lock tracepoints. */
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "kernel.bpf.h"
#include "wxwatch.h"
#include "syscall.bpf.h"
#include "maple.bpf.h"
#include "filters.bpf.h"
#include "record.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define PAGE_SIZE 4096ULL
#define MAX_ERRNO 4095
#define OVERFLOW_VMAS 8192 /* VMAs judged past a full snapshot; more than a process may have */

/* Set between open and load; the verifier prunes what they switch off. */
const volatile __u32 self_tgid = 0;     /* the embedding process: its own JIT never feeds back */
const volatile __u8 emit_denied = 0;    /* also emit changes that were not applied (WX_F_DENIED) */
const volatile __u8 enforce = 0;        /* refuse W→X to the scope (lsm__file_mprotect) */

/* The sensor's self-check child (set by user space while it runs): watched whatever the filters
 * say, so that the check proves the path end to end under any scope. */
volatile __u32 probe_tgid = 0;

/* ---- tracepoint mode ---- */

struct wx_prev {
	__u64 start;
	__u64 flags;
};

/* One write-locked section of one of our calls, from the lock's acquisition to its release. */
struct wx_section {
	__u64 mm;             /* 0: no section open */
	struct wx_call call;
	__u64 start;          /* change calls: the range */
	__u64 end;
	__u64 snap_end;       /* end of the last VMA in vmas[] */
	__u64 stored;         /* create calls: start of the last VMA stored in the tree, or 0 */
	__u32 nvmas;
	__u32 overflow;       /* the range has more VMAs than vmas[] holds */
	struct wx_prev vmas[WX_SNAPSHOT_VMAS];
};

/* Sections open on the whole host. The lock tracepoints fire for every mmap lock of every
 * process: when none of ours is open (the usual case), they return before any map lookup. A
 * count that stays high only costs that shortcut, never a judgment. */
__u64 open_sections = 0;

/* Per task: it dies with the thread, so no other thread can ever read it. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct wx_section);
} wx_sections SEC(".maps");

static __always_inline int skip_process(struct task_struct *task)
{
	if (task->tgid == self_tgid)
		return 1;
	if (probe_tgid && task->tgid == probe_tgid)
		return 0;
	/* Under enforcement the scope names whom to refuse; everyone is still audited. */
	if (!filtered(task, !enforce))
		return 0;
	/* A filtered call counts once as seen and once as filtered, so that the books balance. */
	count(WX_CNT_SEEN);
	count(WX_CNT_FILTERED);
	return 1;
}

struct vma_read {
	__u64 start;
	__u64 end;
	__u64 flags;
	struct file *file;
};

/* The VMA containing addr, from the tree; 0 if found, -1 for a gap or an unreadable tree. */
static __always_inline int vma_at(struct wx_scratch *s, struct mm_struct *mm, __u64 addr, struct vma_read *v)
{
	struct maple_hit hit = {};
	if (maple_lookup(mm, addr, s->node, &hit) || !hit.entry || maple_is_node(hit.entry))
		return -1;
	struct vm_area_struct *vma = (void *)hit.entry;
	v->start = BPF_CORE_READ(vma, vm_start);
	v->end = BPF_CORE_READ(vma, vm_end);
	v->flags = BPF_CORE_READ(vma, vm_flags);
	v->file = BPF_CORE_READ(vma, vm_file);
	return v->start <= addr && addr < v->end ? 0 : -1;
}

struct walk {
	struct wx_section *sec;
	struct mm_struct *mm;
	__u64 cur;
};

/* Remembers the i-th VMA of the range as it is before the call. */
static long snapshot_step(__u32 i, void *data)
{
	struct walk *w = data;
	struct wx_section *sec = w->sec;
	struct wx_scratch *s = scratch();
	struct vma_read v = {};
	if (!s || w->cur >= sec->end || vma_at(s, w->mm, w->cur, &v))
		return 1; /* the end, or a gap: mprotect stops there too */
	if (i >= WX_SNAPSHOT_VMAS) {
		sec->overflow = 1;
		return 1;
	}
	sec->vmas[i & (WX_SNAPSHOT_VMAS - 1)].start = v.start;
	sec->vmas[i & (WX_SNAPSHOT_VMAS - 1)].flags = v.flags;
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

/* Judges the i-th remembered VMA against what it is now. */
static long judge_step(__u32 i, void *data)
{
	struct walk *w = data;
	struct wx_section *sec = w->sec;
	struct wx_scratch *s = scratch();
	if (!s || i >= sec->nvmas)
		return 1;
	__u32 k = i & (WX_SNAPSHOT_VMAS - 1);
	__u64 prev_start = sec->vmas[k].start, prev_flags = sec->vmas[k].flags;
	__u64 prev_end = i + 1 < sec->nvmas ? sec->vmas[(i + 1) & (WX_SNAPSHOT_VMAS - 1)].start : sec->snap_end;
	__u64 probe = prev_start > sec->start ? prev_start : sec->start;
	struct vma_read post = {};
	if (probe >= sec->end || vma_at(s, w->mm, probe, &post))
		return 0;
	struct wx_change *c = &s->change;
	__builtin_memset(c, 0, sizeof(*c));
	__u64 mask = VM_READ | VM_WRITE | VM_EXEC;
	if ((prev_flags & mask) == (post.flags & mask)) {
		/* Not changed. Asked for and refused (or never reached): a denied attempt. */
		if (emit_denied) {
			__u64 asked = (prev_flags & ~mask) | requested_flags(sec);
			c->alert = judge(prev_flags, asked);
			if (c->alert) {
				change_of(c, sec, &post, prev_start, prev_end, prev_flags);
				c->new_flags = asked;
				c->flags |= WX_F_DENIED;
				emit(s, c);
			}
		}
		return 0;
	}
	c->alert = judge(prev_flags, post.flags);
	c->writable_maps = writable_others(post.file, post.flags);
	if (writable_alias(c->writable_maps, prev_flags, post.flags))
		c->flags |= WX_F_WRITABLE_ALIAS;
	if (!c->alert && !(c->flags & WX_F_WRITABLE_ALIAS))
		return 0;
	change_of(c, sec, &post, prev_start, prev_end, prev_flags);
	emit(s, c);
	return 0;
}

/* Past a full snapshot the state before is unknown: a VMA that now has exactly what was asked
 * for may have been changed by this call. It is reported, flagged, never dropped. */
static long overflow_step(__u32 i, void *data)
{
	struct walk *w = data;
	struct wx_section *sec = w->sec;
	struct wx_scratch *s = scratch();
	struct vma_read post = {};
	if (!s || w->cur >= sec->end || vma_at(s, w->mm, w->cur, &post))
		return 1;
	w->cur = post.end;
	__u64 mask = VM_READ | VM_WRITE | VM_EXEC;
	if (!(post.flags & VM_EXEC) || (post.flags & mask) != requested_flags(sec))
		return 0;
	struct wx_change *c = &s->change;
	__builtin_memset(c, 0, sizeof(*c));
	c->alert = post.flags & VM_WRITE ? WX_ALERT_MPROT_X_ADD : WX_ALERT_MPROT_W_REM;
	c->flags = WX_F_PREV_UNKNOWN;
	c->writable_maps = writable_others(post.file, post.flags);
	change_of(c, sec, &post, post.start, post.end, 0);
	emit(s, c);
	return 0;
}

static __always_inline void judge_change_section(struct wx_section *sec, struct mm_struct *mm)
{
	struct walk w = { .sec = sec, .mm = mm };
	bpf_loop(WX_SNAPSHOT_VMAS, judge_step, &w, 0);
	if (sec->overflow) {
		count(WX_CNT_VMA_TRUNCATED);
		w.cur = sec->snap_end;
		bpf_loop(OVERFLOW_VMAS, overflow_step, &w, 0);
	}
}

/* mmap, shmat: the VMA the call stored, if it is executable. */
static __always_inline void judge_create_section(struct wx_section *sec, struct mm_struct *mm)
{
	struct wx_scratch *s = scratch();
	struct vma_read v = {};
	__u64 at = sec->call.map_flags & MAP_FIXED ? sec->call.addr : sec->stored;
	if (!s || !sec->stored || vma_at(s, mm, at, &v) || !(v.flags & VM_EXEC))
		return;
	struct wx_change *c = &s->change;
	__builtin_memset(c, 0, sizeof(*c));
	c->alert = v.flags & VM_WRITE ? WX_ALERT_MMAP_W_X : WX_ALERT_NONE;
	c->writable_maps = writable_others(v.file, v.flags);
	if (writable_alias(c->writable_maps, 0, v.flags))
		c->flags |= WX_F_WRITABLE_ALIAS;
	if (!c->alert && !(c->flags & WX_F_WRITABLE_ALIAS))
		return;
	change_of(c, sec, &v, v.start, v.end, 0);
	c->addr = at;
	emit(s, c);
}

static __always_inline int on_lock_acquired(__u64 lock_mm, __u64 write, __u64 success)
{
	if (!write || !success)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct mm_struct *mm = task->mm;
	if (!mm || (__u64)mm != lock_mm)
		return 0;
	struct wx_call call = {};
	if (current_call(task, &call) == WX_CALL_NONE || !may_exec(task, call.prot) || skip_process(task))
		return 0;
	struct wx_section *sec = bpf_task_storage_get(&wx_sections, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!sec) {
		count(WX_CNT_NO_STATE);
		return 0;
	}
	if (!sec->mm)
		__sync_fetch_and_add(&open_sections, 1);
	sec->mm = (__u64)mm;
	sec->call = call;
	sec->stored = 0;
	sec->nvmas = 0;
	sec->overflow = 0;
	if (call.kind == WX_CALL_CHANGE) {
		sec->start = call.addr & ~(PAGE_SIZE - 1);
		sec->end = sec->start + ((call.len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1));
		sec->snap_end = sec->start;
		struct walk w = { .sec = sec, .mm = mm, .cur = sec->start };
		bpf_loop(WX_SNAPSHOT_VMAS + 1, snapshot_step, &w, 0);
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
	struct wx_call now = {};
	current_call(task, &now);
	/* The section must be this call's: same mm, same system call, same arguments. */
	if ((__u64)mm == sec->mm && now.syscall == sec->call.syscall && now.addr == sec->call.addr &&
	    now.len == sec->call.len && now.prot == sec->call.prot) {
		if (sec->call.kind == WX_CALL_CHANGE)
			judge_change_section(sec, mm);
		else
			judge_create_section(sec, mm);
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

/* ---- lsm-hook mode ---- */

/* One mprotect_fixup call, from its entry to its exit (it may sleep: per task, not per CPU). */
struct wx_fixup {
	struct wx_change change;
	__u64 active;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct wx_fixup);
} wx_fixups SEC(".maps");

/* The call's context for a change seen deep in the kernel: which system call, its arguments. */
static __always_inline void call_context(struct wx_change *c, struct task_struct *task, __u64 start, __u64 end)
{
	struct wx_call call = {};
	current_call(task, &call);
	c->syscall = call.syscall;
	if (call.compat)
		c->flags |= WX_F_COMPAT;
	if (call.kind == WX_CALL_NONE) { /* e.g. execve making an executable stack */
		c->addr = start;
		c->len = end - start;
		c->prot = (c->new_flags & VM_READ ? PROT_READ : 0) | (c->new_flags & VM_WRITE ? PROT_WRITE : 0) |
			  (c->new_flags & VM_EXEC ? PROT_EXEC : 0);
		return;
	}
	c->addr = call.kind == WX_CALL_CREATE ? start : call.addr;
	c->len = call.len;
	c->prot = call.prot;
	if (!(call.prot & PROT_EXEC) && (c->new_flags & VM_EXEC))
		c->flags |= WX_F_READ_IMPLIES_EXEC;
}

/* mprotect_fixup(vmi, tlb, vma, pprev, start, end, newflags) since 6.2; no vmi before. */
SEC("fentry/mprotect_fixup")
int BPF_PROG(fentry__mprotect_fixup)
{
	__u32 base = bpf_get_func_arg_cnt(ctx) >= 7 ? 2 : 1;
	__u64 vma_arg = 0, start = 0, end = 0, newflags = 0;
	bpf_get_func_arg(ctx, base, &vma_arg);
	bpf_get_func_arg(ctx, base + 2, &start);
	bpf_get_func_arg(ctx, base + 3, &end);
	bpf_get_func_arg(ctx, base + 4, &newflags);
	if (!(newflags & VM_EXEC))
		return 0;
	struct vm_area_struct *vma = (void *)vma_arg;
	__u64 prev = BPF_CORE_READ(vma, vm_flags);
	struct file *file = BPF_CORE_READ(vma, vm_file);
	__u32 alert = judge(prev, newflags);
	__s32 others = writable_others(file, newflags);
	int alias = writable_alias(others, prev, newflags);
	if (!alert && !alias)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (skip_process(task))
		return 0;
	struct wx_fixup *f = bpf_task_storage_get(&wx_fixups, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!f) {
		count(WX_CNT_NO_STATE);
		return 0;
	}
	__builtin_memset(&f->change, 0, sizeof(f->change));
	struct wx_change *c = &f->change;
	c->vma_start = BPF_CORE_READ(vma, vm_start);
	c->vma_end = BPF_CORE_READ(vma, vm_end);
	c->prev_flags = prev;
	c->new_flags = newflags;
	c->file = file;
	c->alert = alert;
	c->writable_maps = others;
	if (alias)
		c->flags |= WX_F_WRITABLE_ALIAS;
	call_context(c, task, start, end);
	f->active = 1;
	return 0;
}

SEC("fexit/mprotect_fixup")
int BPF_PROG(fexit__mprotect_fixup)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct wx_fixup *f = bpf_task_storage_get(&wx_fixups, task, 0, 0);
	if (!f || !f->active)
		return 0;
	f->active = 0;
	__u64 ret = 0;
	bpf_get_func_ret(ctx, &ret);
	struct wx_scratch *s = scratch();
	if (!s)
		return 0;
	if ((int)ret != 0) {
		if (!emit_denied)
			return 0;
		f->change.flags |= WX_F_DENIED;
		f->change.ret = (int)ret;
	}
	/* The lock is still held: the VMA's file is alive (see struct wx_change). */
	emit(s, &f->change);
	return 0;
}

SEC("fexit/mmap_region")
int BPF_PROG(fexit__mmap_region, struct file *file, unsigned long addr, unsigned long len,
	     unsigned long vm_flags, unsigned long pgoff, void *uf, unsigned long ret)
{
	if (!(vm_flags & VM_EXEC) || ret >= (unsigned long)-MAX_ERRNO)
		return 0;
	__u32 alert = vm_flags & VM_WRITE ? WX_ALERT_MMAP_W_X : WX_ALERT_NONE;
	__s32 others = writable_others(file, vm_flags);
	int alias = writable_alias(others, 0, vm_flags);
	if (!alert && !alias)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct wx_scratch *s = scratch();
	if (!s || skip_process(task))
		return 0;
	struct wx_change *c = &s->change;
	__builtin_memset(c, 0, sizeof(*c));
	c->alert = alert;
	c->writable_maps = others;
	if (alias)
		c->flags |= WX_F_WRITABLE_ALIAS;
	c->vma_start = ret;
	c->vma_end = ret + len;
	c->new_flags = vm_flags;
	c->file = file; /* the caller holds a reference for the whole call */
	call_context(c, task, ret, ret + len);
	emit(s, c);
	return 0;
}

/* The VMA's flags if an EXEC request (prot, as the security hooks see it) were applied. */
static __always_inline __u64 flags_asked(__u64 prev, unsigned long prot)
{
	return (prev & ~(VM_READ | VM_WRITE | VM_EXEC)) | (prot & PROT_READ ? VM_READ : 0) |
	       (prot & PROT_WRITE ? VM_WRITE : 0) | VM_EXEC;
}

/* Prevention (lsm-hook mode with BPF LSM, opt-in): a W→X by a process in the scope is refused
 * with EACCES before the kernel changes anything, and reported as blocked. Detaching the
 * program (closing the sensor) ends it. */

SEC("lsm/file_mprotect")
int BPF_PROG(lsm__file_mprotect, struct vm_area_struct *vma, unsigned long reqprot, unsigned long prot, int ret)
{
	if (ret || !enforce || !(prot & PROT_EXEC))
		return ret;
	__u64 prev = BPF_CORE_READ(vma, vm_flags);
	__u64 asked = flags_asked(prev, prot);
	if (judge(prev, asked) != WX_ALERT_MPROT_W_REM)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (task->tgid == self_tgid || (probe_tgid && task->tgid == probe_tgid) || filtered(task, 1))
		return 0; /* outside the scope, allowlisted, or our self-check: audit only */
	struct wx_scratch *s = scratch();
	if (s) {
		struct wx_change *c = &s->change;
		__builtin_memset(c, 0, sizeof(*c));
		c->alert = WX_ALERT_MPROT_W_REM;
		c->vma_start = BPF_CORE_READ(vma, vm_start);
		c->vma_end = BPF_CORE_READ(vma, vm_end);
		c->prev_flags = prev;
		c->new_flags = asked;
		c->file = BPF_CORE_READ(vma, vm_file);
		c->flags = WX_F_BLOCKED;
		c->ret = -13; /* EACCES */
		call_context(c, task, c->vma_start, c->vma_end);
		emit(s, c);
	}
	return -13;
}

/* Refusals by a security module (SELinux execmem, a BPF LSM ...): mprotect_fixup never runs. */
SEC("fexit/security_file_mprotect")
int BPF_PROG(fexit__security_file_mprotect, struct vm_area_struct *vma, unsigned long reqprot,
	     unsigned long prot, int ret)
{
	if (!emit_denied || !ret || !(prot & PROT_EXEC))
		return 0;
	__u64 prev = BPF_CORE_READ(vma, vm_flags);
	__u64 asked = flags_asked(prev, prot);
	__u32 alert = judge(prev, asked);
	if (!alert)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct wx_scratch *s = scratch();
	if (!s || skip_process(task))
		return 0;
	struct wx_change *c = &s->change;
	__builtin_memset(c, 0, sizeof(*c));
	c->alert = alert;
	c->vma_start = BPF_CORE_READ(vma, vm_start);
	c->vma_end = BPF_CORE_READ(vma, vm_end);
	c->prev_flags = prev;
	c->new_flags = asked;
	c->file = BPF_CORE_READ(vma, vm_file);
	c->flags = WX_F_DENIED;
	c->ret = ret;
	call_context(c, task, c->vma_start, c->vma_end);
	emit(s, c);
	return 0;
}
