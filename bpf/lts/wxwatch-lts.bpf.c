// SPDX-License-Identifier: GPL-2.0
/* wxwatch's kernel side for kernels before 6.0 (Debian 11's 5.10, Amazon Linux 2's 5.10, and
 * 5.11-5.19), lsm-hook mode only: fentry/fexit on mprotect_fixup (5 arguments before 6.0: vma,
 * pprev, start, end, newflags) and fexit on mmap_region. The same records (bpf/wxwatch.h) into
 * the same ring, the same counters, filters and alert judgment (memory.bpf.h, filters.bpf.h) as
 * bpf/wxwatch.bpf.c; native/bpf_program.cc loads this object when mprotect_fixup has 5
 * arguments. It uses nothing past Linux 5.8 (ring buffer): no task storage (the call's state
 * between entry and exit is a hash keyed by thread), no bpf_get_current_task_btf,
 * bpf_task_pt_regs, bpf_loop, bpf_get_func_arg*, nor compare-and-swap.
 *
 * Writes into executable memory (WXW-002) by /proc/PID/mem, ptrace pokes and process_vm_writev
 * are judged per page at follow_page_mask, as the main object does before 6.3; UFFDIO_COPY at
 * mcopy_atomic, on the VMAs of the rbtree these kernels keep. What it does not have (user space
 * says so, lib/coverage.ts): UFFDIO_CONTINUE (5.13: not hooked here), fair shares. Writes to
 * files mapped executable are judged at security_file_permission, executable aliases (WXW-001)
 * at mprotect_fixup's and mmap_region's exits, both on a bounded walk of the file's views; code
 * is read as the main object reads it (lts/record-lts.bpf.h). Enforcement: lts/enforce-lts.bpf.h
 * (BPF LSM, loaded only when asked). */
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "kernel.bpf.h"
#include "wxwatch.h"

/* x86-64 task_pt_regs(): the top of the task's kernel stack (THREAD_SIZE 16 KiB without KASAN,
 * no padding on x86-64), which is where the syscall's registers are saved. */
#define LTS_THREAD_SIZE (4096 << 2)
struct task_struct___lts {
	void *stack;
} __attribute__((preserve_access_index));
/* (the kernel's struct pt_regs by its size in the kernel's BTF: kernel.bpf.h declares a part) */
#define wx_task_pt_regs(task)                                                                   \
	((struct pt_regs *)(BPF_CORE_READ((struct task_struct___lts *)(task), stack) + LTS_THREAD_SIZE - \
			    bpf_core_type_size(struct pt_regs)))

/* 5.10's tracing programs have no bpf_get_current_ancestor_cgroup_id: read from the cgroup. */
#define WX_ANCESTOR_HELPER 0

#include "lts/record-lts.bpf.h"
#include "filters.bpf.h"
#include "syscall.bpf.h"
#include "write-calls.bpf.h"

#define MAX_ERRNO 4095
#define LTS_MAY_WRITE 0x2

/* One mprotect_fixup call between its entry and its exit, per thread. */
struct lts_fixup {
	struct lts_change change;
	__u64 vma;
	__u64 start;
	__u64 end;
	__u8 filtered;
	__u8 _pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* bpf_get_current_pid_tgid() */
	__type(value, struct lts_fixup);
} wx_lts_fixups SEC(".maps");

/* One mprotect or pkey_mprotect call, per thread: its records, and the summaries past them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* bpf_get_current_pid_tgid() */
	__type(value, struct lts_tally);
} wx_lts_calls SEC(".maps");

/* The process that owns mm (CONFIG_MEMCG), else nothing known. */
static __always_inline struct task_struct *lts_mm_owner(struct mm_struct *mm)
{
	if (!mm || !bpf_core_field_exists(struct mm_struct, owner))
		return 0;
	return BPF_CORE_READ(mm, owner);
}

/* (defined with the VMA tree's walk, below) */
static __always_inline void lts_judge_alias(struct lts_scratch *s, struct mm_struct *mm, struct file *file,
					    __u64 range_start, __u64 range_end, int exec);

/* The call's context (trampolines.bpf.h's call_context). */
static __always_inline void lts_call_context(struct lts_change *c, struct task_struct *task, __u64 start, __u64 end)
{
	struct wx_call call = {};
	current_call(task, &call);
	c->syscall = call.syscall;
	if (call.compat)
		c->flags |= WX_F_COMPAT;
	if (call.kind != WX_CALL_CHANGE && call.kind != WX_CALL_CREATE) {
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

static __always_inline void describe_change(struct lts_change *c, struct task_struct *task, struct vm_area_struct *vma,
					    __u64 start, __u64 end, __u64 newflags, __u64 prev, __u32 alert)
{
	__builtin_memset(c, 0, sizeof(*c));
	struct file *file = BPF_CORE_READ(vma, vm_file);
	c->new_flags = newflags;
	c->vma_start = BPF_CORE_READ(vma, vm_start);
	c->vma_end = BPF_CORE_READ(vma, vm_end);
	c->prev_flags = prev;
	c->file = file;
	c->alert = alert;
	if (!(prev & VM_EXEC))
		c->flags |= memory_flags(vma, file);
	lts_call_context(c, task, start, end);
}

/* Writes the change in a slot, or counts it seen and lost when every slot is held. */
static __always_inline void emit_from(struct lts_change *from, struct lts_tally *tally)
{
	struct lts_scratch *s = lts_slot_or_count();
	if (!s)
		return;
	__builtin_memcpy(&s->change, from, sizeof(s->change));
	lts_emit(s, tally);
	lts_slot_put(s);
}

/* do_mprotect_pkey(start, len, prot, pkey): one call, whatever its ABI. No state (the map
 * full): its VMAs are all written one by one. */
SEC("fentry/do_mprotect_pkey")
int BPF_PROG(fentry__do_mprotect_pkey, unsigned long start, unsigned long len, unsigned long prot)
{
	if (!may_make_exec(prot))
		return 0;
	__u64 key = bpf_get_current_pid_tgid();
	struct lts_tally fresh = {};
	bpf_map_update_elem(&wx_lts_calls, &key, &fresh, BPF_ANY);
	return 0;
}

/* A summary record standing for what one kind counted past WX_CALL_RECORDS (record.bpf.h's
 * summary_of). */
static __always_inline void emit_summary(struct lts_scratch *s, struct lts_tally_kind *k, __u32 alert, __u16 syscall)
{
	if (!k->count)
		return;
	struct lts_change *c = &s->change;
	__builtin_memset(c, 0, sizeof(*c));
	c->alert = alert;
	c->flags = (k->flags & ~(WX_F_HAS_FILE | WX_F_CODE_TRUNCATED | WX_F_CODE_SKIPPED)) | WX_F_SUMMARY;
	c->summary_count = k->count;
	c->vma_start = k->first;
	c->vma_end = k->last;
	c->addr = k->first;
	c->len = k->last - k->first;
	c->syscall = syscall;
	lts_emit_summary(s);
}

/* At its end: one summary record per alert kind counted past WX_CALL_RECORDS. */
SEC("fexit/do_mprotect_pkey")
int BPF_PROG(fexit__do_mprotect_pkey, unsigned long start, unsigned long len, unsigned long prot)
{
	if (!may_make_exec(prot)) /* (the personality cannot change during the call) */
		return 0;
	__u64 key = bpf_get_current_pid_tgid();
	struct lts_tally *t = bpf_map_lookup_elem(&wx_lts_calls, &key);
	if (!t)
		return 0;
	if (t->records >= WX_CALL_RECORDS) {
		struct lts_scratch *s = lts_slot_take();
		if (!s) {
			/* the summaries' members are counted (throttled); the summaries themselves lost */
			count(WX_CNT_SEEN);
			count(WX_CNT_LOST_BUSY);
		} else {
			struct wx_call call = {};
			call_number(current_task(), &call);
			/* mprotect's alert kinds, written out: 5.10's verifier refuses this loop as clang
			 * lays it out */
			emit_summary(s, &t->kind[WX_ALERT_MPROT_X_ADD], WX_ALERT_MPROT_X_ADD, call.syscall);
			emit_summary(s, &t->kind[WX_ALERT_MPROT_W_ADD], WX_ALERT_MPROT_W_ADD, call.syscall);
			emit_summary(s, &t->kind[WX_ALERT_MPROT_W_REM], WX_ALERT_MPROT_W_REM, call.syscall);
			lts_slot_put(s);
		}
	}
	bpf_map_delete_elem(&wx_lts_calls, &key);
	return 0;
}

/* Entry: the VMA before the change, kept for the exit. */
SEC("fentry/mprotect_fixup")
int BPF_PROG(fentry__mprotect_fixup_0, struct vm_area_struct *vma, void *pprev, unsigned long start, unsigned long end,
	     unsigned long newflags)
{
	if (!(newflags & VM_EXEC))
		return 0;
	__u64 prev = BPF_CORE_READ(vma, vm_flags);
	__u32 alert = judge(prev, newflags);
	if (!alert)
		return 0;
	struct task_struct *task = current_task();
	__u64 key = bpf_get_current_pid_tgid();
	struct lts_fixup f = {};
	f.vma = (__u64)vma;
	f.start = start;
	f.end = end;
	f.filtered = skip_process(task); /* counted once, here */
	if (!f.filtered)
		describe_change(&f.change, task, vma, start, end, newflags, prev, alert);
	if (bpf_map_update_elem(&wx_lts_fixups, &key, &f, BPF_ANY)) {
		/* No state to carry the change to its exit: reported now, its outcome unknown. */
		count(WX_CNT_NO_STATE);
		if (f.filtered)
			return 0;
		f.change.flags |= WX_F_OUTCOME_UNKNOWN;
		emit_from(&f.change, 0);
	}
	return 0;
}

/* Exit: whether the change was applied. */
SEC("fexit/mprotect_fixup")
int BPF_PROG(fexit__mprotect_fixup_0, struct vm_area_struct *vma, void *pprev, unsigned long start, unsigned long end,
	     unsigned long newflags, int ret)
{
	__u64 key = bpf_get_current_pid_tgid();
	struct lts_fixup *f = bpf_map_lookup_elem(&wx_lts_fixups, &key);
	if (!f)
		return 0;
	if (f->vma != (__u64)vma || f->start != start || f->end != end) {
		/* a stash this exit does not close (cannot happen: one call at a time per thread) */
		return 0;
	}
	if (f->filtered) {
		bpf_map_delete_elem(&wx_lts_fixups, &key);
		return 0;
	}
	if (ret != 0) {
		if (!emit_denied) {
			bpf_map_delete_elem(&wx_lts_fixups, &key);
			return 0;
		}
		f->change.flags |= WX_F_DENIED;
		f->change.ret = ret;
	}
	struct lts_scratch *s = lts_slot_or_count();
	if (s) {
		__builtin_memcpy(&s->change, &f->change, sizeof(s->change));
		/* The lock is still held: the VMA now at start is the one changed (or what it merged
		 * into); the file's other views decide the alias. */
		if (!ret && !(s->change.prev_flags & VM_EXEC))
			lts_judge_alias(s, BPF_CORE_READ(current_task(), mm), s->change.file, start, end, 1);
		lts_emit(s, bpf_map_lookup_elem(&wx_lts_calls, &key));
		lts_slot_put(s);
	}
	bpf_map_delete_elem(&wx_lts_fixups, &key);
	return 0;
}

/* mmap_region(file, addr, len, vm_flags, pgoff, uf): a new mapping; W+X is alert 1, an
 * executable view of a file another view may write (or a view that may write of a file mapped
 * executable) an alias. */
SEC("fexit/mmap_region")
int BPF_PROG(fexit__mmap_region, struct file *file, unsigned long addr, unsigned long len, unsigned long vm_flags,
	     unsigned long pgoff, void *uf, unsigned long ret)
{
	__u32 alert = 0, flags = 0;
	if (ret >= (unsigned long)-MAX_ERRNO || !new_mapping_worth(file, vm_flags, &alert, &flags))
		return 0;
	struct task_struct *task = current_task();
	if (skip_process(task))
		return 0;
	struct lts_scratch *s = lts_slot_or_count();
	if (!s)
		return 0;
	struct lts_change *c = &s->change;
	c->alert = alert;
	c->flags = flags;
	c->vma_start = ret;
	c->vma_end = ret + len;
	c->new_flags = vm_flags;
	c->file = file;
	lts_judge_alias(s, BPF_CORE_READ(task, mm), file, ret, ret + len, (vm_flags & VM_EXEC) != 0);
	if (alert || (c->flags & (WX_F_IN_MEMORY_FILE | WX_F_WRITABLE_ALIAS))) {
		lts_call_context(c, task, ret, ret + len);
		lts_emit(s, 0);
	}
	lts_slot_put(s);
	return 0;
}

/* The write call each thread last reported: one write reaches follow_page_mask once per page,
 * and a poke's copy-on-write fault twice. LRU: a thread that exits leaves its entry behind. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* bpf_get_current_pid_tgid() */
	__type(value, struct wx_write_id);
} wx_lts_writes SEC(".maps");

/* Whether the current write call is the one this thread last reported; remembers it if not. */
static __always_inline int lts_same_write(struct task_struct *task, struct wx_call *call, struct wx_write *w)
{
	__u64 key = bpf_get_current_pid_tgid();
	struct wx_write_id fresh = {};
	bpf_map_update_elem(&wx_lts_writes, &key, &fresh, BPF_NOEXIST);
	struct wx_write_id *last = bpf_map_lookup_elem(&wx_lts_writes, &key);
	return last ? same_write_id(last, task, call, w) : 0;
}

/* follow_page_mask(vma, address, flags, ctx): every page /proc/PID/mem, a ptrace poke or
 * process_vm_writev reaches in the target, with the target's lock held, on the VMA the kernel
 * writes into (get_user_pages_remote takes seven arguments, past what a trampoline takes before
 * 6.3). A forced write (FOLL_FORCE), or a write into another mm, into an executable VMA is one
 * record per write call; other callers leave at the first test. */
SEC("fentry/follow_page_mask")
int BPF_PROG(fentry__follow_page_mask, struct vm_area_struct *vma, unsigned long address, unsigned int flags)
{
	if (!(flags & FOLL_WRITE))
		return 0;
	__u64 vm_flags = BPF_CORE_READ(vma, vm_flags);
	/* an execve writing its arguments into the new stack is not a write into code */
	if (!(vm_flags & VM_EXEC) || (vm_flags & VM_STACK_INCOMPLETE_SETUP) == VM_STACK_INCOMPLETE_SETUP)
		return 0;
	struct task_struct *task = current_task();
	struct mm_struct *target = BPF_CORE_READ(vma, vm_mm);
	struct mm_struct *own = BPF_CORE_READ(task, mm);
	if (!(flags & FOLL_FORCE) && target == own)
		return 0;
	struct wx_call call = {};
	struct wx_write w;
	current_call(task, &call);
	if (decode_write(task, &call, (__u64)target, &w)) {
		__builtin_memset(&w, 0, sizeof(w));
		w.route = WX_ROUTE_REMOTE; /* io_uring, a kernel thread: the route is not told apart */
	} else if (lts_same_write(task, &call, &w)) {
		return 0;
	}
	if (skip_process(task))
		return 0;
	struct lts_scratch *s = lts_slot_or_count();
	if (!s)
		return 0;
	struct lts_change *c = &s->change;
	__u64 page = address & ~(WX_CODE_PAGE - 1ULL);
	struct file *file = BPF_CORE_READ(vma, vm_file);
	c->event = WX_EVENT_WRITE;
	c->route = w.route;
	c->syscall = call.syscall;
	c->addr = w.addr ? w.addr : page;
	c->len = w.len ? w.len : WX_CODE_PAGE;
	c->vma_start = BPF_CORE_READ(vma, vm_start);
	c->vma_end = BPF_CORE_READ(vma, vm_end);
	c->prev_flags = vm_flags;
	c->new_flags = vm_flags;
	c->file = file;
	c->target_mm = target;
	c->flags = w.flags;
	if (w.route == WX_ROUTE_PTRACE) {
		c->poke = w.poke; /* the poke's bytes, read back from here */
		c->code_src = (__u64)&s->change.poke;
		c->code_kernel = 1;
	} else {
		c->code_src = w.src;
		c->code_kernel = w.src_kernel;
	}
	if (target != own)
		c->flags |= WX_F_CROSS_PROCESS;
	struct task_struct *owner = lts_mm_owner(target);
	if (owner && BPF_CORE_READ(owner, ptrace) && BPF_CORE_READ(owner, parent, tgid) == BPF_CORE_READ(task, tgid))
		c->flags |= WX_F_TRACER;
	if (file)
		c->flags |= memory_flags(vma, file) & WX_F_IN_MEMORY_FILE;
	lts_emit(s, 0);
	lts_slot_put(s);
	return 0;
}

/* Kernels before 6.1 keep an mm's VMAs in an rbtree, each linked to the next. */
struct vm_area_struct___rb {
	struct rb_node vm_rb;
	struct vm_area_struct *vm_next;
} __attribute__((preserve_access_index));

struct mm_struct___rb {
	struct rb_root mm_rb;
} __attribute__((preserve_access_index));

#define LTS_RB_DEPTH 40  /* a red-black tree of 2^20 VMAs is at most 40 deep */
#define LTS_RANGE_VMAS 8 /* VMAs of one written range looked at */

/* The first VMA of mm ending above addr (the kernel's find_vma), or NULL; *unwalked if the tree
 * was deeper than the descent. */
static __always_inline struct vm_area_struct *lts_find_vma(struct mm_struct *mm, __u64 addr, int *unwalked)
{
	struct vm_area_struct *found = 0;
	struct rb_node *node = BPF_CORE_READ((struct mm_struct___rb *)mm, mm_rb.rb_node);
	__u64 off = bpf_core_field_offset(struct vm_area_struct___rb, vm_rb);
#pragma unroll
	for (int i = 0; i < LTS_RB_DEPTH; i++) {
		if (!node)
			return found;
		struct vm_area_struct *vma = (void *)node - off;
		if (BPF_CORE_READ(vma, vm_end) > addr) {
			found = vma;
			if (BPF_CORE_READ(vma, vm_start) <= addr)
				return found;
			node = BPF_CORE_READ(node, rb_left);
		} else {
			node = BPF_CORE_READ(node, rb_right);
		}
	}
	*unwalked = node != 0;
	return found;
}

/* The first executable VMA of mm in [start, end), or NULL; *unsure (counted) when the range has
 * more VMAs than are looked at, or the tree is deeper than the descent: the rest not judged. */
static __always_inline struct vm_area_struct *lts_exec_vma_in(struct mm_struct *mm, __u64 start, __u64 end, int *unsure)
{
	int unwalked = 0;
	struct vm_area_struct *vma = lts_find_vma(mm, start, &unwalked);
	*unsure = 0;
	if (unwalked) {
		count(WX_CNT_UNWALKED);
		*unsure = 1;
		return 0;
	}
#pragma unroll
	for (int i = 0; i < LTS_RANGE_VMAS; i++) {
		if (!vma || BPF_CORE_READ(vma, vm_start) >= end)
			return 0;
		if (BPF_CORE_READ(vma, vm_flags) & VM_EXEC)
			return vma;
		vma = BPF_CORE_READ((struct vm_area_struct___rb *)vma, vm_next);
	}
	if (vma && BPF_CORE_READ(vma, vm_start) < end) {
		count(WX_CNT_UNWALKED);
		*unsure = 1;
	}
	return 0;
}

#define LTS_ALIAS_VIEWS 16 /* a file's views looked at in one walk; a file with more: flagged */

/* The walk of alias-walk.bpf.h without bpf_loop: a bounded loop over its steps, on the slot's
 * walk state (a map value: each step starts from unknown values, so 5.10's verifier checks a
 * step once, not once per path). 1 when every view was seen. */
static __always_inline int lts_walk_views(struct lts_scratch *s, struct file *file, struct vm_area_struct *self,
					  __u64 first, __u64 last, int want_exec)
{
	struct alias_walk *w = &s->walk;
	__builtin_memset(w, 0, sizeof(*w));
	w->node = BPF_CORE_READ(file, f_mapping, i_mmap.rb_root.rb_node);
	w->self = self;
	w->pgoff_first = first;
	w->pgoff_last = last;
	w->want_exec = want_exec;
	for (__u32 i = 0; i < 3 * LTS_ALIAS_VIEWS; i++)
		if (alias_step(i, w))
			return 1;
	return 0;
}

/* alias.bpf.h's judge_alias, into the slot's change: the part range_start..range_end of vma,
 * judged by flags, which becomes executable (exec) or was just made (alias_ask); placed: vma is
 * known to hold range_start (if not, nothing is known of the file's other views). */
static __always_inline void lts_judge_view(struct lts_scratch *s, struct vm_area_struct *vma, struct file *file,
					   __u64 range_start, __u64 range_end, __u64 flags, int exec, int placed)
{
	struct lts_change *c = &s->change;
	struct alias_ask a;
	if (!alias_ask(&a, file, flags, exec))
		return;
	int complete = 0;
	struct alias_walk *w = &s->walk;
	if (placed) {
		__u64 first = BPF_CORE_READ(vma, vm_pgoff) + ((range_start - BPF_CORE_READ(vma, vm_start)) >> PAGE_SHIFT);
		complete = lts_walk_views(s, file, vma, first, first + ((range_end - range_start) >> PAGE_SHIFT) - 1, a.look_exec) &&
			   alias_counts_seen(&a, w->shared, w->shared_maywrite);
	} else {
		w->found = 0;
	}
	if (w->found) {
		c->flags |= WX_F_WRITABLE_ALIAS | (a.look_exec ? WX_F_ALIAS_EXEC_FIRST : 0);
		c->writable_maps = w->found;
		c->alias_start = w->first_start;
		c->alias_end = w->first_end;
		struct task_struct *owner = lts_mm_owner((void *)w->first_mm);
		c->alias_pid = owner ? BPF_CORE_READ(owner, tgid) : 0;
	} else if (!complete) {
		/* views not all seen: reported, flagged, never trusted to be none */
		c->flags |= WX_F_WRITABLE_ALIAS | WX_F_ALIAS_UNSURE | (a.look_exec ? WX_F_ALIAS_EXEC_FIRST : 0);
		c->writable_maps = a.look_writable ? a.writable - a.self_maywrite : 0;
	}
}

/* The view of file at range_start..range_end in mm (its lock held) that became executable
 * (exec) or was just made, judged by its flags now. */
static __always_inline void lts_judge_alias(struct lts_scratch *s, struct mm_struct *mm, struct file *file,
					    __u64 range_start, __u64 range_end, int exec)
{
	if (!file)
		return;
	int unwalked = 0;
	struct vm_area_struct *vma = lts_find_vma(mm, range_start, &unwalked);
	if (!vma)
		return; /* (the view just made or changed is there: cannot happen) */
	lts_judge_view(s, vma, file, range_start, range_end, BPF_CORE_READ(vma, vm_flags), exec,
		       !unwalked && BPF_CORE_READ(vma, vm_start) <= range_start);
}

/* Whether file has a view executable now, at any offset (not all seen: yes). */
static __always_inline int lts_file_has_exec_view(struct lts_scratch *s, struct file *file)
{
	if (!file || !BPF_CORE_READ(file, f_mapping, i_mmap.rb_root.rb_node))
		return 0;
	int complete = lts_walk_views(s, file, 0, 0, ~0ULL, 1);
	return s->walk.found || !complete;
}

/* Any write to a file that some process maps executable (trampolines.bpf.h's
 * fentry__security_file_permission): the page cache changes the code that runs. On every write
 * path; a file nobody maps costs one load. The walk sees 16 views: a file with more, none of
 * them executable over the pages written, is reported with nothing known of where (no target,
 * flagged rangeUnsure, counted degraded), never trusted to have no executable view. */
SEC("fentry/security_file_permission")
int BPF_PROG(fentry__security_file_permission, struct file *file, int mask)
{
	if (!(mask & LTS_MAY_WRITE) || !file)
		return 0;
	if (!BPF_CORE_READ(file, f_mapping, i_mmap.rb_root.rb_node))
		return 0; /* nobody maps it: one load */
	struct task_struct *task = current_task();
	if (BPF_CORE_READ(task, tgid) == self_tgid)
		return 0;
	struct lts_scratch *s = lts_slot_or_count();
	if (!s)
		return 0;
	struct wx_call call = {};
	struct file_write wr;
	current_call(task, &call);
	file_write_of(task, &call, file, &wr);
	__u64 len = wr.len;
	int complete = lts_walk_views(s, file, 0, wr.first, wr.last, 1);
	struct alias_walk *w = &s->walk;
	if ((!w->found && complete) || skip_process(task)) {
		lts_slot_put(s);
		return 0;
	}
	struct lts_change *c = &s->change;
	c->event = WX_EVENT_WRITE;
	c->route = WX_ROUTE_FILE_WRITE;
	c->syscall = call.syscall;
	c->len = len;
	c->code_src = wr.src;
	c->prev_flags = c->new_flags = VM_EXEC;
	c->file = file;
	if (in_memory_file(file))
		c->flags |= WX_F_IN_MEMORY_FILE;
	if (!len)
		c->flags |= WX_F_RANGE_UNSURE;
	if (w->found) {
		/* where the bytes land in the first executable view (its start when the range is unsure) */
		c->addr = len ? w->first_start + (__u64)wr.pos - (w->first_pgoff << PAGE_SHIFT) : w->first_start;
		c->vma_start = w->first_start;
		c->vma_end = w->first_end;
		c->target_mm = (void *)w->first_mm;
		c->writable_maps = w->found;
		if (w->first_mm != (__u64)BPF_CORE_READ(task, mm))
			c->flags |= WX_F_CROSS_PROCESS;
	} else {
		c->flags |= WX_F_RANGE_UNSURE; /* (counted degraded) */
	}
	lts_emit(s, 0);
	lts_slot_put(s);
	return 0;
}

/* mcopy_atomic(dst_mm, dst_start, src_start, len, mmap_changing, mode): UFFDIO_COPY fills pages
 * past their protection. Read without the lock, as the main object does: a VMA made executable
 * after is judged then (written memory made executable). */
SEC("fentry/mcopy_atomic")
int BPF_PROG(fentry__mcopy_atomic, struct mm_struct *dst_mm, unsigned long dst, unsigned long src, unsigned long len)
{
	if (!dst_mm || !len)
		return 0;
	int unsure;
	struct vm_area_struct *vma = lts_exec_vma_in(dst_mm, dst, dst + len, &unsure);
	if (!vma)
		return 0;
	struct task_struct *task = current_task();
	if (skip_process(task))
		return 0;
	struct lts_scratch *s = lts_slot_or_count();
	if (!s)
		return 0;
	struct lts_change *c = &s->change;
	struct wx_call call = {};
	call_number(task, &call);
	struct file *file = BPF_CORE_READ(vma, vm_file);
	__u64 vm_flags = BPF_CORE_READ(vma, vm_flags);
	c->event = WX_EVENT_WRITE;
	c->route = WX_ROUTE_USERFAULTFD;
	c->syscall = call.syscall;
	c->addr = dst;
	c->len = len;
	c->code_src = src; /* in the filler's memory */
	c->vma_start = BPF_CORE_READ(vma, vm_start);
	c->vma_end = BPF_CORE_READ(vma, vm_end);
	c->prev_flags = vm_flags;
	c->new_flags = vm_flags;
	c->file = file;
	c->target_mm = dst_mm;
	if (dst_mm != BPF_CORE_READ(task, mm))
		c->flags |= WX_F_CROSS_PROCESS;
	if (file)
		c->flags |= memory_flags(vma, file) & WX_F_IN_MEMORY_FILE;
	lts_emit(s, 0);
	lts_slot_put(s);
	return 0;
}

#include "lts/enforce-lts.bpf.h"

char LICENSE[] SEC("license") = "GPL";
