/* lsm-hook mode: BPF trampolines on the kernel functions that change and create mappings, and
 * on the ones every write into another process's memory goes through. They run only on those
 * calls, with the mmap lock held (mprotect_fixup, mmap_region, the gup functions) and the
 * kernel's own arguments: nothing to decode, no snapshot to overflow.
 *
 * Trampoline programs are preemptible on a preemptible kernel, and the kernel skips a program
 * that starts on a CPU where a preempted run of it is still in progress (recursion_misses):
 * user space reads those counts into the books. State between entry and exit is per task. */
#ifndef WXWATCH_TRAMPOLINES_BPF_H
#define WXWATCH_TRAMPOLINES_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "alias.bpf.h"
#include "filters.bpf.h"
#include "kernel.bpf.h"
#include "maple.bpf.h"
#include "record.bpf.h"
#include "syscall.bpf.h"
#include "writes.bpf.h"
#include "wxwatch.h"

#define MAX_ERRNO 4095
#define MAY_WRITE 0x2
#define UFFDIO_COPY_CMD 0xc028aa03UL

/* One mprotect call and the VMA its mprotect_fixup is changing (it may sleep: per task). */
struct wx_fixup {
	struct wx_change change;
	struct wx_tally tally;
	__u64 vma;      /* the call of mprotect_fixup stashed: its VMA and the part changed */
	__u64 start;
	__u64 end;
	__u8 active;    /* between fentry and fexit of mprotect_fixup */
	__u8 filtered;  /* that call's process is not judged (counted as filtered once) */
	__u8 in_call;   /* between fentry and fexit of do_mprotect_pkey */
	__u8 _pad[5];
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
	if (call.kind != WX_CALL_CHANGE && call.kind != WX_CALL_CREATE) { /* e.g. a page fault */
		c->addr = start;
		c->len = end - start;
		c->prot = (c->new_flags & VM_READ ? PROT_READ : 0) | (c->new_flags & VM_WRITE ? PROT_WRITE : 0) |
			  (c->new_flags & VM_EXEC ? PROT_EXEC : 0);
		return;
	}
	c->addr = call.kind == WX_CALL_CREATE ? start : call.addr;
	c->len = call.kind == WX_CALL_CREATE ? end - start : call.len;
	c->prot = call.prot;
	if (!(call.prot & PROT_EXEC) && (c->new_flags & VM_EXEC))
		c->flags |= WX_F_READ_IMPLIES_EXEC;
}

/* do_mprotect_pkey(start, len, prot, pkey): one call, whatever its ABI; its VMAs past
 * WX_CALL_RECORDS are counted into summaries written at its end. */
SEC("fentry/do_mprotect_pkey")
int BPF_PROG(fentry__do_mprotect_pkey, unsigned long start, unsigned long len, unsigned long prot)
{
	if (!may_make_exec(prot))
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct wx_fixup *f = bpf_task_storage_get(&wx_fixups, task, 0, 0);
	if (f) {
		f->in_call = 1;
		f->tally.records = 0;
	}
	return 0;
}

SEC("fexit/do_mprotect_pkey")
int BPF_PROG(fexit__do_mprotect_pkey, unsigned long start, unsigned long len, unsigned long prot)
{
	if (!may_make_exec(prot)) /* (the personality cannot change during the call) */
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct wx_fixup *f = bpf_task_storage_get(&wx_fixups, task, 0, 0);
	if (!f)
		return 0;
	f->in_call = 0;
	if (f->tally.records < WX_CALL_RECORDS)
		return 0;
	__u32 slot;
	struct wx_scratch *s = slot_take(&slot);
	if (!s) {
		count(WX_CNT_LOST_BUSY);
		return 0;
	}
	flush_tally(slot, &f->tally, f->change.syscall);
	slot_done(s, slot);
	return 0;
}

/* mprotect_fixup(vmi, tlb, vma, pprev, start, end, newflags) since 6.2; no vmi before. */
struct fixup_args {
	__u64 vma;
	__u64 start;
	__u64 end;
	__u64 newflags;
};

static __always_inline void fixup_args_of(void *ctx, struct fixup_args *a)
{
	__u32 base = bpf_get_func_arg_cnt(ctx) >= 7 ? 2 : 1;
	bpf_get_func_arg(ctx, base, &a->vma);
	bpf_get_func_arg(ctx, base + 2, &a->start);
	bpf_get_func_arg(ctx, base + 3, &a->end);
	bpf_get_func_arg(ctx, base + 4, &a->newflags);
}

/* Whether the task's stash is this very call of mprotect_fixup's: same VMA, range and flags. */
static __always_inline int stash_is(struct wx_fixup *f, struct fixup_args *a)
{
	return f->vma == a->vma && f->start == a->start && f->end == a->end && f->change.new_flags == a->newflags;
}

/* A stash whose exit every copy missed (each was skipped, its CPU busy with a preempted run):
 * judged now, on what the VMA became, flagged. The lock is held (the next change is under it). */
static __always_inline void judge_late(struct task_struct *task, struct wx_fixup *f)
{
	f->active = 0;
	if (f->filtered)
		return;
	__u32 slot;
	struct wx_scratch *s = slot_take_or_count(&slot);
	if (!s)
		return;
	struct wx_change *c = &s->change;
	__builtin_memcpy(c, &f->change, sizeof(*c));
	struct vma_read *now = &s->vma;
	if (vma_at(&s->node, (__u64)BPF_CORE_READ(task, mm), f->start, now) ||
	    (now->flags & VM_ACCESS) != (c->new_flags & VM_ACCESS)) {
		slot_done(s, slot); /* not applied, or changed again since: nothing to say of it */
		return;
	}
	c->flags |= WX_F_OUTCOME_LATE;
	emit(s, slot, c, 0);
	slot_done(s, slot);
}

/* What a change is, from the VMA before it (the outcome is the exit's to judge). */
static __always_inline void describe_change(struct wx_change *c, struct task_struct *task, struct vm_area_struct *vma,
					    struct fixup_args *a, __u64 prev, __u32 alert)
{
	__builtin_memset(c, 0, sizeof(*c));
	c->new_flags = a->newflags;
	struct file *file = BPF_CORE_READ(vma, vm_file);
	c->vma_start = BPF_CORE_READ(vma, vm_start);
	c->vma_end = BPF_CORE_READ(vma, vm_end);
	c->prev_flags = prev;
	c->file = file;
	c->alert = alert;
	if (!(prev & VM_EXEC))
		c->flags |= memory_flags(vma, file);
	call_context(c, task, a->start, a->end);
}

/* A task with no state to carry the change to its exit (its storage busy, as a preempted run on
 * the same CPU can leave it): reported now, its outcome unknown, flagged, never dropped. */
static __always_inline void report_unawaited(struct task_struct *task, struct vm_area_struct *vma,
					     struct fixup_args *a, __u64 prev, __u32 alert)
{
	count(WX_CNT_NO_STATE);
	if (skip_process(task))
		return;
	__u32 slot;
	struct wx_scratch *s = slot_take_or_count(&slot);
	if (!s)
		return;
	describe_change(&s->change, task, vma, a, prev, alert);
	s->change.flags |= WX_F_OUTCOME_UNKNOWN;
	emit(s, slot, &s->change, 0);
	slot_done(s, slot);
}

/* Entry: the VMA before the change. Several copies are attached (FIXUP_COPIES): on a preemptible
 * kernel a copy preempted mid-run makes the kernel skip that copy on its CPU, and the next copy
 * then does the work; the first copy to run does it, the others see it done. */
static __always_inline int on_fixup_entry(void *ctx)
{
	struct fixup_args a = {};
	fixup_args_of(ctx, &a);
	if (!(a.newflags & VM_EXEC))
		return 0;
	struct vm_area_struct *vma = (void *)a.vma;
	__u64 prev = BPF_CORE_READ(vma, vm_flags);
	__u32 alert = judge(prev, a.newflags);
	if (!alert) /* every change that gains EXEC or WRITE with it has an alert kind */
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct wx_fixup *f = bpf_task_storage_get(&wx_fixups, task, 0, 0);
	if (f && f->active) {
		if (stash_is(f, &a))
			return 0; /* an earlier copy took this one */
		judge_late(task, f);
	}
	if (!f) {
		f = bpf_task_storage_get(&wx_fixups, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!f) {
			report_unawaited(task, vma, &a, prev, alert);
			return 0;
		}
		/* the first candidate of this task: its call began before there was state to mark */
		f->in_call = 1;
		f->tally.records = 0;
	}
	f->vma = a.vma;
	f->start = a.start;
	f->end = a.end;
	f->active = 1;
	/* counted once, by the copy that took it */
	f->filtered = skip_process(task);
	if (f->filtered)
		return 0;
	describe_change(&f->change, task, vma, &a, prev, alert);
	return 0;
}

/* Exit: whether the change was applied (the first copy to run decides, see on_fixup_entry). */
static __always_inline int on_fixup_exit(void *ctx)
{
	struct fixup_args a = {};
	fixup_args_of(ctx, &a);
	if (!(a.newflags & VM_EXEC)) /* its entry stashed nothing: the cheap exit first */
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct wx_fixup *f = bpf_task_storage_get(&wx_fixups, task, 0, 0);
	if (!f || !f->active)
		return 0;
	if (!stash_is(f, &a))
		return 0; /* a stash of a change whose entry copies all missed this one: judged late */
	f->active = 0;
	if (f->filtered)
		return 0;
	__u64 ret = 0;
	bpf_get_func_ret(ctx, &ret);
	if ((int)ret != 0) {
		if (!emit_denied)
			return 0;
		f->change.flags |= WX_F_DENIED;
		f->change.ret = (int)ret;
	}
	__u32 slot;
	struct wx_scratch *s = slot_take_or_count(&slot);
	if (!s)
		return 0;
	struct wx_change *c = &s->change;
	__builtin_memcpy(c, &f->change, sizeof(*c));
	if (!(c->flags & WX_F_DENIED) && !(c->prev_flags & VM_EXEC) && c->file) {
		/* The lock is still held: the VMA now at start is the one changed (or what it merged
		 * into, which has the same file: anonymous memory merges only with anonymous memory,
		 * so it has no views to read); its file views decide the alias. */
		struct vma_read *post = &s->vma;
		if (!vma_at(&s->node, (__u64)BPF_CORE_READ(task, mm), f->start, post))
			judge_alias(s, slot, post->vma, post->file, post->start, f->start, f->end, post->flags, 1);
	}
	emit(s, slot, c, f->in_call ? &f->tally : 0);
	slot_done(s, slot);
	return 0;
}

#define FIXUP_COPY(n)                                                                              \
	SEC("fentry/mprotect_fixup")                                                               \
	int BPF_PROG(fentry__mprotect_fixup_##n)                                                   \
	{                                                                                          \
		return on_fixup_entry(ctx);                                                        \
	}                                                                                          \
	SEC("fexit/mprotect_fixup")                                                                \
	int BPF_PROG(fexit__mprotect_fixup_##n)                                                    \
	{                                                                                          \
		return on_fixup_exit(ctx);                                                         \
	}

FIXUP_COPY(0)
FIXUP_COPY(1)
FIXUP_COPY(2)

/* mmap_region(file, addr, len, vm_flags, pgoff, uf): every new mapping, of any call (mmap, shmat,
 * execve's images). Called with the lock held; ret is where it landed, or an error. */
SEC("fexit/mmap_region")
int BPF_PROG(fexit__mmap_region, struct file *file, unsigned long addr, unsigned long len,
	     unsigned long vm_flags, unsigned long pgoff, void *uf, unsigned long ret)
{
	__u32 alert = 0, flags = 0;
	if (ret >= (unsigned long)-MAX_ERRNO || !new_mapping_worth(file, vm_flags, &alert, &flags))
		return 0;
	int exec = (vm_flags & VM_EXEC) != 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (skip_process(task))
		return 0;
	__u32 slot;
	struct wx_scratch *s = slot_take_or_count(&slot);
	if (!s)
		return 0;
	struct wx_change *c = &s->change;
	__builtin_memset(c, 0, sizeof(*c));
	c->alert = alert;
	c->flags = flags;
	c->vma_start = ret;
	c->vma_end = ret + len;
	c->new_flags = vm_flags;
	c->file = file; /* the caller holds a reference for the whole call */
	struct vma_read *v = &s->vma;
	if (file && !vma_at(&s->node, (__u64)BPF_CORE_READ(task, mm), ret, v))
		judge_alias(s, slot, v->vma, file, v->start, ret, ret + len, v->flags, exec);
	if (alert || (c->flags & (WX_F_IN_MEMORY_FILE | WX_F_WRITABLE_ALIAS))) {
		call_context(c, task, ret, ret + len);
		emit(s, slot, c, 0);
	}
	slot_done(s, slot);
	return 0;
}

/* Refusals by a security module (SELinux execmem, a BPF LSM ...): mprotect_fixup never runs. */
SEC("fexit/security_file_mprotect")
int BPF_PROG(fexit__security_file_mprotect, struct vm_area_struct *vma, unsigned long reqprot,
	     unsigned long prot, int ret)
{
	if (!emit_denied || !ret || !(prot & PROT_EXEC))
		return 0;
	__u64 prev = BPF_CORE_READ(vma, vm_flags);
	__u64 asked = (prev & ~VM_ACCESS) | (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | VM_EXEC;
	__u32 alert = judge(prev, asked);
	if (!alert)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (skip_process(task))
		return 0;
	__u32 slot;
	struct wx_scratch *s = slot_take_or_count(&slot);
	if (!s)
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
	emit(s, slot, c, 0);
	slot_done(s, slot);
	return 0;
}

/* ---- writes into another process's memory (and /proc/self/mem) ---- */

/* get_user_pages_remote(mm, start, nr_pages, gup_flags, ...) and pin_user_pages_remote(...)
 * are how /proc/PID/mem, ptrace pokes and process_vm_writev reach another mm's pages, with that
 * mm's lock held: a forced write (FOLL_WRITE) into an executable VMA is judged here, exactly.
 * The call's registers say which route and where its bytes are. */
static __always_inline int on_remote_pages(__u64 mm, __u64 start, __u64 nr_pages, __u64 gup_flags)
{
	if (!(gup_flags & FOLL_WRITE) || !mm)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct wx_call call = {};
	struct wx_write w;
	current_call(task, &call);
	if (decode_write(task, &call, mm, &w)) {
		__builtin_memset(&w, 0, sizeof(w));
		w.route = WX_ROUTE_REMOTE; /* io_uring, a kernel thread: the route is not told apart */
	} else if (same_write(task, &call, &w)) {
		return 0;
	}
	if (skip_process(task))
		return 0;
	__u32 slot;
	struct wx_scratch *s = slot_take_or_count(&slot);
	if (!s)
		return 0;
	struct vma_read *v = &s->vma;
	/* an execve writing its arguments into the new stack is not a write into code */
	if (!vma_at(&s->node, mm, start, v) && (v->flags & VM_STACK_INCOMPLETE_SETUP) != VM_STACK_INCOMPLETE_SETUP)
		judge_write(s, slot, task, mm, start, nr_pages * WX_CODE_PAGE, &w, call.syscall);
	slot_done(s, slot);
	return 0;
}

/* The mm argument, as a plain number (maple_lookup takes one). */
static __always_inline __u64 arg_u64(void *ctx, __u32 n)
{
	__u64 v = 0;
	bpf_get_func_arg(ctx, n, &v);
	return v;
}

SEC("fentry/get_user_pages_remote")
int BPF_PROG(fentry__get_user_pages_remote, struct mm_struct *mm, unsigned long start, unsigned long nr_pages,
	     unsigned int gup_flags)
{
	return on_remote_pages(arg_u64(ctx, 0), start, nr_pages, gup_flags);
}

SEC("fentry/pin_user_pages_remote")
int BPF_PROG(fentry__pin_user_pages_remote, struct mm_struct *mm, unsigned long start, unsigned long nr_pages,
	     unsigned int gup_flags)
{
	return on_remote_pages(arg_u64(ctx, 0), start, nr_pages, gup_flags);
}

/* Before 6.3 a trampoline takes at most six arguments, and the two above have seven: there,
 * follow_page_mask(vma, address, flags, ctx), which the same paths call for each page with
 * the lock held. A forced write (FOLL_FORCE: /proc/PID/mem, ptrace) or a write into another mm
 * (process_vm_writev) into an executable VMA is judged; other callers leave at once. */
SEC("fentry/follow_page_mask")
int BPF_PROG(fentry__follow_page_mask, struct vm_area_struct *vma, unsigned long address, unsigned int flags)
{
	if (!(flags & FOLL_WRITE) || !(BPF_CORE_READ(vma, vm_flags) & VM_EXEC))
		return 0;
	__u64 mm = (__u64)BPF_CORE_READ(vma, vm_mm);
	if (!(flags & FOLL_FORCE) && mm == (__u64)BPF_CORE_READ(bpf_get_current_task_btf(), mm))
		return 0;
	return on_remote_pages(mm, address & ~(WX_CODE_PAGE - 1ULL), 1, flags);
}

/* userfaultfd fills pages past their protection: UFFDIO_COPY and UFFDIO_CONTINUE into an
 * executable VMA. The entry points differ by kernel (mcopy_* before 6.4, mfill_atomic_* after);
 * user space loads the ones this kernel has. Read without the lock: a VMA made executable
 * after is judged then (written memory, or an in-memory file, made executable). */
static __always_inline int on_uffd_fill(__u64 mm, __u64 dst, __u64 len, __u64 src)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!mm || skip_process(task))
		return 0;
	__u32 slot;
	struct wx_scratch *s = slot_take_or_count(&slot);
	if (!s)
		return 0;
	struct wx_write w = { .route = WX_ROUTE_USERFAULTFD, .addr = dst, .len = len, .src = src };
	struct wx_call call = {};
	call_number(task, &call);
	judge_write(s, slot, task, mm, dst, len, &w, call.syscall);
	slot_done(s, slot);
	return 0;
}

struct userfaultfd_ctx___fill {
	struct mm_struct *mm;
} __attribute__((preserve_access_index));

SEC("fentry/mfill_atomic_copy")
int BPF_PROG(fentry__mfill_atomic_copy, void *ctx_arg, unsigned long dst, unsigned long src, unsigned long len)
{
	return on_uffd_fill((__u64)BPF_CORE_READ((struct userfaultfd_ctx___fill *)ctx_arg, mm), dst, len, src);
}

SEC("fentry/mfill_atomic_continue")
int BPF_PROG(fentry__mfill_atomic_continue, void *ctx_arg, unsigned long start, unsigned long len)
{
	return on_uffd_fill((__u64)BPF_CORE_READ((struct userfaultfd_ctx___fill *)ctx_arg, mm), start, len, 0);
}

SEC("fentry/mcopy_atomic")
int BPF_PROG(fentry__mcopy_atomic, struct mm_struct *mm, unsigned long dst, unsigned long src, unsigned long len)
{
	return on_uffd_fill(arg_u64(ctx, 0), dst, len, src);
}

SEC("fentry/mcopy_continue")
int BPF_PROG(fentry__mcopy_continue, struct mm_struct *mm, unsigned long start, unsigned long len)
{
	return on_uffd_fill(arg_u64(ctx, 0), start, len, 0);
}

/* Any write to a file that some process maps executable: the page cache changes the code that
 * runs. security_file_permission is on every write path (write, pwrite, writev, splice,
 * copy_file_range, io_uring); a file nobody maps costs one load. */
SEC("fentry/security_file_permission")
int BPF_PROG(fentry__security_file_permission, struct file *file, int mask)
{
	if (!(mask & MAY_WRITE) || !file)
		return 0;
	if (!BPF_CORE_READ(file, f_mapping, i_mmap.rb_root.rb_node))
		return 0; /* nobody maps it: one load */
	struct task_struct *task = bpf_get_current_task_btf();
	if (task->tgid == self_tgid)
		return 0;
	__u32 slot;
	struct wx_scratch *s = slot_take_or_count(&slot);
	if (!s)
		return 0;
	struct wx_call call = {};
	struct file_write wr;
	current_call(task, &call);
	/* the pages written, where the call says (else any): an executable view of other pages of
	 * the file (a library's text, beside the data being written) is not written into */
	file_write_of(task, &call, file, &wr);
	struct wx_views *w = walk_views(s, slot, file, 0, wr.first, wr.last, 1);
	/* a walk that ran out of steps (more than WX_ALIAS_WALK views: an attacker can map a file
	 * that often) is reported with nothing known of where, never trusted to have found none */
	if ((!w->found && w->complete) || skip_process(task)) {
		slot_done(s, slot);
		return 0;
	}
	struct wx_change *c = &s->change;
	__builtin_memset(c, 0, sizeof(*c));
	c->event = WX_EVENT_WRITE;
	c->route = WX_ROUTE_FILE_WRITE;
	c->syscall = call.syscall;
	c->len = wr.len;
	c->code_src = wr.src;
	c->prev_flags = c->new_flags = VM_EXEC;
	c->file = file;
	if (in_memory_file(file))
		c->flags |= WX_F_IN_MEMORY_FILE;
	if (!wr.len || !w->found)
		c->flags |= WX_F_RANGE_UNSURE;
	if (w->found) {
		/* where the bytes land in the first executable view (its start when the range is unsure) */
		c->addr = wr.len ? w->first_start + (__u64)wr.pos - (w->first_pgoff << PAGE_SHIFT) : w->first_start;
		c->vma_start = w->first_start;
		c->vma_end = w->first_end;
		c->target_mm = (void *)w->first_mm;
		c->writable_maps = w->found;
		if (w->first_mm != (__u64)BPF_CORE_READ(task, mm))
			c->flags |= WX_F_CROSS_PROCESS;
	}
	emit(s, slot, c, 0);
	slot_done(s, slot);
	return 0;
}

#endif /* WXWATCH_TRAMPOLINES_BPF_H */
