/* Writes into executable memory: bytes that reach memory executable in the target at that
 * moment without any change of protection, by /proc/PID/mem (the kernel writes with
 * FOLL_FORCE past the page's protection), ptrace pokes, process_vm_writev into RWX memory,
 * userfaultfd, or a write to a file that is mapped executable. Judged on the target's VMAs;
 * both modes share this (tracepoint mode from the target's mmap lock sections, lsm-hook mode
 * from the kernel functions every such write goes through). */
#ifndef WXWATCH_WRITES_BPF_H
#define WXWATCH_WRITES_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "kernel.bpf.h"
#include "maple.bpf.h"
#include "record.bpf.h"
#include "syscall.bpf.h"
#include "write-calls.bpf.h"
#include "wxwatch.h"

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct wx_write_id);
} wx_writes SEC(".maps");

/* Whether this lock section or page belongs to the write call last reported by this task (a
 * write of many pages takes the target's lock once per page); remembers the call if not. */
static __always_inline int same_write(struct task_struct *task, struct wx_call *call, struct wx_write *w)
{
	/* A poke is one page, but before 6.3 it is judged per follow_page_mask, which its COW fault
	 * makes run twice: the same poke again (request, address and word) is the same write. Two
	 * identical pokes in a row are one report: the second writes nothing new. */
	struct wx_write_id *last = bpf_task_storage_get(&wx_writes, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	return last ? same_write_id(last, task, call, w) : 0;
}

struct exec_find {
	__u64 cur;
	__u64 end;
	__u64 mm;
	__u32 slot;
	__u8 found;
	__u8 done; /* the range's end, or a gap past which nothing is mapped */
	struct vma_read v;
};

/* One VMA of the written range: stops at the first executable one. */
static long exec_find_step(__u32 i, void *data)
{
	struct exec_find *f = data;
	struct wx_scratch *s = slot_at(f->slot);
	if (!s)
		return 1;
	if (f->cur >= f->end || vma_from(&s->node, f->mm, f->cur, &f->v) || f->v.start >= f->end) {
		f->done = 1;
		return 1;
	}
	if (f->v.flags & VM_EXEC) {
		f->found = 1;
		return 1;
	}
	f->cur = f->v.end;
	return 0;
}

/* Judges a write of [addr, addr + len) into target by the current task: one record if it
 * covers memory executable in target now. The caller holds target's mmap lock, or accepts a
 * lockless read (a VMA made executable just after is then judged when it gains EXEC: memory
 * forced-written has an anon_vma, so it is written memory made executable). */
static __always_inline void judge_write(struct wx_scratch *s, __u32 slot, struct task_struct *task, __u64 target,
					__u64 addr, __u64 len, struct wx_write *w, __u16 syscall)
{
	struct exec_find f = { .cur = addr & ~(WX_CODE_PAGE - 1ULL), .end = addr + len, .mm = target, .slot = slot };
	if (len == 0)
		return;
	bpf_loop(1024, exec_find_step, &f, 0);
	if (!f.found) {
		if (!f.done)
			count(WX_CNT_UNWALKED); /* more VMAs than the walk takes: the rest not judged */
		return;
	}
	struct wx_change *c = &s->change;
	__builtin_memset(c, 0, sizeof(*c));
	c->event = WX_EVENT_WRITE;
	c->route = w->route;
	c->syscall = syscall;
	c->addr = w->addr ? w->addr : addr;
	c->len = w->len ? w->len : len;
	c->vma_start = f.v.start;
	c->vma_end = f.v.end;
	c->prev_flags = f.v.flags;
	c->new_flags = f.v.flags;
	c->file = f.v.file;
	c->target_mm = (void *)target;
	c->flags = w->flags;
	if (w->route == WX_ROUTE_PTRACE) {
		c->poke = w->poke; /* the poke's bytes, read back from here */
		c->code_src = (__u64)&s->change.poke;
		c->code_kernel = 1;
	} else {
		c->code_src = w->src;
		c->code_kernel = w->src_kernel;
	}
	if (target != (__u64)BPF_CORE_READ(task, mm))
		c->flags |= WX_F_CROSS_PROCESS;
	struct task_struct *owner = mm_owner((void *)target);
	if (owner && BPF_CORE_READ(owner, ptrace) && BPF_CORE_READ(owner, parent, tgid) == task->tgid)
		c->flags |= WX_F_TRACER;
	if (f.v.file)
		c->flags |= memory_flags(f.v.vma, f.v.file) & WX_F_IN_MEMORY_FILE;
	emit(s, slot, c, 0);
}

#endif /* WXWATCH_WRITES_BPF_H */
