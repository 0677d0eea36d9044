/* The walk of a file's views (its i_mmap tree, in order, one pointer move per step), and what a
 * view is checked against, shared by the main object (alias.bpf.h, under bpf_loop) and the LTS
 * object (a bounded loop). */
#ifndef WXWATCH_ALIAS_WALK_BPF_H
#define WXWATCH_ALIAS_WALK_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "kernel.bpf.h"
#include "memory.bpf.h"
#include "wxwatch.h"

#ifndef PAGE_SHIFT
#define PAGE_SHIFT 12
#endif

enum alias_step { ALIAS_DOWN = 0, ALIAS_VISIT = 1, ALIAS_UP = 2, ALIAS_DONE = 3 };

/* The walk's state, on the stack of the function that runs it (bpf_loop's context must be; the
 * LTS object keeps it in its work slot). Its fields start from the slot's zeroed request, not from constants: before 6.8 the verifier
 * checks a bpf_loop callback once, with the state it starts with, and would prune every branch
 * a constant start never takes (the walk would stop after its first step). */
struct alias_walk {
	struct rb_node *node;
	struct vm_area_struct *self; /* the view being judged: not its own alias */
	__u64 pgoff_first;           /* the file pages looked at, inclusive */
	__u64 pgoff_last;
	__u32 want_exec;             /* look for executable views (else: those that may write) */
	__u32 mode;
	__u32 found;                 /* overlapping views of the kind looked for */
	__u32 shared;                /* every other VM_SHARED view, and those that may write: */
	__u32 shared_maywrite;       /* the kernel counts one or the other (6.7 changed it) */
	__u32 _pad;
	__u64 first_start;           /* the first overlapping view found */
	__u64 first_end;
	__u64 first_mm;
	__u64 first_pgoff;           /* its first file page: where an offset is in it */
};

static __always_inline struct vm_area_struct *vma_of_node(struct rb_node *node)
{
	return (void *)node - bpf_core_field_offset(struct vm_area_struct, shared.rb);
}

static __always_inline void alias_visit(struct alias_walk *w, struct rb_node *node)
{
	struct vm_area_struct *vma = vma_of_node(node);
	if (vma == w->self)
		return;
	__u64 flags = BPF_CORE_READ(vma, vm_flags);
	int maywrite = (flags & (VM_SHARED | VM_MAYWRITE)) == (VM_SHARED | VM_MAYWRITE);
	if (flags & VM_SHARED)
		w->shared++;
	if (maywrite)
		w->shared_maywrite++;
	if (w->want_exec ? !(flags & VM_EXEC) : !maywrite)
		return;
	__u64 start = BPF_CORE_READ(vma, vm_start), end = BPF_CORE_READ(vma, vm_end);
	__u64 first = BPF_CORE_READ(vma, vm_pgoff);
	__u64 last = first + ((end - start) >> PAGE_SHIFT) - 1;
	if (last < w->pgoff_first || first > w->pgoff_last)
		return;
	if (w->found++ == 0) {
		w->first_start = start;
		w->first_end = end;
		w->first_mm = (__u64)BPF_CORE_READ(vma, vm_mm);
		w->first_pgoff = first;
	}
}

static __always_inline struct rb_node *rb_parent_of(struct rb_node *node)
{
	return (void *)(BPF_CORE_READ(node, __rb_parent_color) & ~3UL);
}

/* One move of an in-order walk: down to the leftmost node, visit, right, or up. */
static long alias_step(__u32 i, void *data)
{
	struct alias_walk *w = data;
	struct rb_node *node = w->node;
	if (!node) {
		w->mode = ALIAS_DONE;
		return 1;
	}
	if (w->mode == ALIAS_DOWN) {
		struct rb_node *left = BPF_CORE_READ(node, rb_left);
		if (left)
			w->node = left;
		else
			w->mode = ALIAS_VISIT;
		return 0;
	}
	if (w->mode == ALIAS_VISIT) {
		alias_visit(w, node);
		struct rb_node *right = BPF_CORE_READ(node, rb_right);
		if (right) {
			w->node = right;
			w->mode = ALIAS_DOWN;
		} else {
			w->mode = ALIAS_UP;
		}
		return 0;
	}
	struct rb_node *parent = rb_parent_of(node);
	if (!parent) {
		w->mode = ALIAS_DONE;
		return 1;
	}
	if (BPF_CORE_READ(parent, rb_left) == node)
		w->mode = ALIAS_VISIT;
	w->node = parent;
	return 0;
}

/* What a view of a file is checked against (alias.bpf.h's judge_alias): an executable view
 * (exec) against the file's other views that may write, a new shared view that may write
 * against its executable ones. 0: nothing to look at (a file with no other shared writable
 * view and a view that cannot write: every executable and library on disk). */
struct alias_ask {
	__s32 writable; /* the kernel's count of the file's shared writable views, this one included */
	__u8 self_shared;
	__u8 self_maywrite;
	__u8 look_writable;
	__u8 look_exec;
};

static __always_inline int alias_ask(struct alias_ask *a, struct file *file, __u64 flags, int exec)
{
	a->self_shared = (flags & VM_SHARED) != 0;
	a->self_maywrite = (flags & (VM_SHARED | VM_MAYWRITE)) == (VM_SHARED | VM_MAYWRITE);
	/* < 0 once write-sealed: no writable view at all */
	a->writable = BPF_CORE_READ(file, f_mapping, i_mmap_writable.counter);
	a->look_writable = exec && a->writable > a->self_maywrite;
	a->look_exec = !exec && a->self_maywrite && !(flags & VM_EXEC);
	return a->look_writable || a->look_exec;
}

/* Whether every writable view the kernel counts was seen by a walk that found `shared` other
 * shared views, `shared_maywrite` of them that may write (it counts those since 6.7, every shared
 * view before): then none was missed. */
static __always_inline int alias_counts_seen(struct alias_ask *a, __u32 shared, __u32 shared_maywrite)
{
	return !a->look_writable || shared_maywrite == a->writable - a->self_maywrite ||
	       shared == a->writable - a->self_shared;
}

/* mmap_region's exit: what a new mapping may be reported for, before anything is looked up: W+X
 * (*alert), an executable in-memory file (*flags), or an alias. 0: nothing. */
static __always_inline int new_mapping_worth(struct file *file, __u64 vm_flags, __u32 *alert, __u32 *flags)
{
	int exec = (vm_flags & VM_EXEC) != 0;
	int maywrite = (vm_flags & (VM_SHARED | VM_MAYWRITE)) == (VM_SHARED | VM_MAYWRITE);
	if (!exec && !(maywrite && file))
		return 0;
	*flags = exec && in_memory_file(file) ? WX_F_IN_MEMORY_FILE : 0;
	*alert = exec && (vm_flags & VM_WRITE) ? WX_ALERT_MMAP_W_X : WX_ALERT_NONE;
	__s32 writable = file ? BPF_CORE_READ(file, f_mapping, i_mmap_writable.counter) : 0;
	/* cheap exits: nothing that could make an alias, nothing else to report */
	return *alert || *flags || (exec && writable > 0) || (maywrite && !exec);
}

#endif /* WXWATCH_ALIAS_WALK_BPF_H */
