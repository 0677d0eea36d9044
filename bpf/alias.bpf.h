/* Executable aliases of writable memory, judged exactly: a view of a file that becomes
 * executable while another shared view that may write covers the same file offsets, or the
 * other way round (a shared writable view made while an executable view of the same offsets
 * exists: the exec-first order). The kernel keeps every mapping of a file in its i_mmap tree;
 * this walks it in order, one pointer move per step.
 *
 * The walk runs without the file's i_mmap lock. The kernel's own count of shared writable
 * mappings (i_mmap_writable) tells whether it saw all of them: a walk that did not find as
 * many, or ran out of steps, is reported flagged (WX_F_ALIAS_UNSURE) rather than trusted. */
#ifndef WXWATCH_ALIAS_BPF_H
#define WXWATCH_ALIAS_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "alias-walk.bpf.h"
#include "kernel.bpf.h"
#include "record.bpf.h"

/* Walks every view of the slot's view request (s->views): the file's mappings that overlap
 * its pages, of the kind it asks for, and how many shared ones there are. A global function:
 * the walk's state has a stack frame of its own, apart from its callers' (512 bytes in all). */
__noinline int walk_views_of_slot(__u32 slot)
{
	struct wx_scratch *s = slot_at(slot);
	if (!s)
		return 0;
	struct wx_views *v = &s->views;
	struct file *file = (void *)v->file; /* a local: CORE_READ would relocate v->file too */
	struct address_space *mapping = BPF_CORE_READ(file, f_mapping);
	/* every field from the zeroed result: unknown to the verifier, see struct alias_walk */
	struct alias_walk w = {
		.node = BPF_CORE_READ(mapping, i_mmap.rb_root.rb_node),
		.self = (void *)v->self,
		.pgoff_first = v->pgoff_first,
		.pgoff_last = v->pgoff_last,
		.want_exec = v->want_exec,
		.mode = v->found,
		.found = v->found,
		.shared = v->found,
		.shared_maywrite = v->found,
	};
	bpf_loop(3 * WX_ALIAS_WALK, alias_step, &w, 0);
	v->found = w.found;
	v->shared = w.shared;
	v->shared_maywrite = w.shared_maywrite;
	v->complete = w.mode == ALIAS_DONE;
	v->first_start = w.first_start;
	v->first_end = w.first_end;
	v->first_mm = w.first_mm;
	v->first_pgoff = w.first_pgoff;
	return 0;
}

/* Asks for the views of file over its pages first..last: executable ones (want_exec) or ones
 * that may write, self excluded. The answer is in s->views. */
static __always_inline struct wx_views *walk_views(struct wx_scratch *s, __u32 slot, struct file *file,
						   struct vm_area_struct *self, __u64 first, __u64 last, int want_exec)
{
	struct wx_views *v = &s->views;
	__builtin_memset(v, 0, sizeof(*v));
	v->file = (__u64)file;
	v->self = (__u64)self;
	v->pgoff_first = first;
	v->pgoff_last = last;
	v->want_exec = want_exec;
	walk_views_of_slot(slot);
	return v;
}

/* Whether a file has a view that is executable now, at any offset (not all seen: yes). */
static __always_inline int file_has_exec_view(struct wx_scratch *s, __u32 slot, struct file *file)
{
	if (!file || !BPF_CORE_READ(file, f_mapping, i_mmap.rb_root.rb_node))
		return 0;
	struct wx_views *v = walk_views(s, slot, file, 0, 0, ~0ULL, 1);
	return v->found || !v->complete;
}

/* Judges one view of a file for aliases (alias_ask), into the slot's change: the part
 * range_start..range_end of vma (which starts at vma_start; flags: its vm_flags now), which
 * becomes executable (exec) or was just made. */
static __always_inline void judge_alias(struct wx_scratch *s, __u32 slot, struct vm_area_struct *vma, struct file *file,
					__u64 vma_start, __u64 range_start, __u64 range_end, __u64 flags, int exec)
{
	if (!file)
		return;
	struct wx_change *c = &s->change;
	struct alias_ask a;
	if (!alias_ask(&a, file, flags, exec))
		return;
	__u64 first = BPF_CORE_READ(vma, vm_pgoff) + ((range_start - vma_start) >> PAGE_SHIFT);
	struct wx_views *v = walk_views(s, slot, file, vma, first, first + ((range_end - range_start) >> PAGE_SHIFT) - 1,
					 a.look_exec);
	int complete = v->complete && alias_counts_seen(&a, v->shared, v->shared_maywrite);
	if (v->found) {
		c->flags |= WX_F_WRITABLE_ALIAS | (a.look_exec ? WX_F_ALIAS_EXEC_FIRST : 0);
		c->writable_maps = v->found;
		c->alias_start = v->first_start;
		c->alias_end = v->first_end;
		struct task_struct *owner = mm_owner((void *)v->first_mm);
		c->alias_pid = owner ? BPF_CORE_READ(owner, tgid) : 0;
	} else if (!complete) {
		/* views not all seen: reported, flagged, never trusted to be none */
		c->flags |= WX_F_WRITABLE_ALIAS | WX_F_ALIAS_UNSURE | (a.look_exec ? WX_F_ALIAS_EXEC_FIRST : 0);
		c->writable_maps = a.look_writable ? a.writable - a.self_maywrite : 0;
	}
}

#endif /* WXWATCH_ALIAS_BPF_H */
