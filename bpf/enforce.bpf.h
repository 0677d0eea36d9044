/* Prevention (lsm-hook mode with BPF LSM, opt-in): for the processes the scope names, every
 * way to make written memory executable is refused with EACCES before the kernel does anything,
 * and each refusal is a record flagged blocked, with the rule that refused it. Detaching the
 * programs (closing the sensor) ends it. LSM programs have no recursion check: none is skipped
 * on a preemptible kernel. What no hook can refuse (brk under READ_IMPLIES_EXEC) user space
 * says at start. */
#ifndef WXWATCH_ENFORCE_BPF_H
#define WXWATCH_ENFORCE_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "alias.bpf.h"
#include "enforce-rules.bpf.h"
#include "filters.bpf.h"
#include "kernel.bpf.h"
#include "record.bpf.h"
#include "syscall.bpf.h"
#include "trampolines.bpf.h"
#include "writes.bpf.h"
#include "wxwatch.h"

/* Writes the blocked record for a refusal (c: the change, in the slot) and returns -EACCES. */
static __always_inline int refuse(struct wx_scratch *s, __u32 slot, struct task_struct *task, __u8 rule)
{
	struct wx_change *c = &s->change;
	c->flags |= WX_F_BLOCKED;
	c->rule = rule;
	c->ret = -EACCES;
	emit(s, slot, c, 0);
	slot_done(s, slot);
	return -EACCES;
}

static __always_inline struct wx_scratch *refusal_slot(__u32 *slot)
{
	struct wx_scratch *s = slot_take(slot);
	if (!s) {
		/* refused all the same: only the record is lost, and counted */
		count(WX_CNT_SEEN);
		count(WX_CNT_LOST_BUSY);
		return 0;
	}
	__builtin_memset(&s->change, 0, sizeof(s->change));
	return s;
}

/* map_rule, with the walk it leaves to the caller. */
static __always_inline __u8 map_rule_walked(struct wx_scratch *s, __u32 slot, struct file *file, int exec, int writable, int shared_writable, __u32 *kind)
{
	__u8 rule = map_rule(file, exec, writable, shared_writable, kind);
	if (rule == WX_RULE_IF_EXEC_VIEW)
		rule = file_has_exec_view(s, slot, file) ? WX_RULE_ALIAS : WX_RULE_NONE;
	return rule;
}

/* mprotect and pkey_mprotect, per VMA, before it changes. */
SEC("lsm/file_mprotect")
int BPF_PROG(lsm__file_mprotect, struct vm_area_struct *vma, unsigned long reqprot, unsigned long prot, int ret)
{
	if (ret || !enforce)
		return ret;
	struct mprotect_ask m;
	if (!mprotect_asks(&m, BPF_CORE_READ(vma, vm_flags), prot))
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (!enforced_on(task, 1))
		return 0;
	struct file *file = BPF_CORE_READ(vma, vm_file);
	__u32 written = memory_flags(vma, file);
	__u8 rule = mprotect_rule(&m, written);
	if (!rule && !file)
		return 0;
	__u32 slot;
	struct wx_scratch *s = refusal_slot(&slot);
	if (!s) /* unjudged (counted): refused, as the mmap path does */
		return -EACCES;
	struct wx_change *c = &s->change;
	__u64 start = BPF_CORE_READ(vma, vm_start), end = BPF_CORE_READ(vma, vm_end);
	if (!rule) {
		/* an executable view of a writable one, or a writable view of an executable one */
		judge_alias(s, slot, vma, file, start, start, end, mprotect_alias_flags(&m), m.gained_exec);
		if (m.gained_write_shared && !(c->flags & WX_F_WRITABLE_ALIAS) && file_has_exec_view(s, slot, file))
			c->flags |= WX_F_WRITABLE_ALIAS | WX_F_ALIAS_EXEC_FIRST;
		if (!(c->flags & WX_F_WRITABLE_ALIAS)) {
			slot_done(s, slot);
			return 0;
		}
		rule = WX_RULE_ALIAS;
	}
	c->alert = judge(m.prev, m.asked);
	c->vma_start = start;
	c->vma_end = end;
	c->prev_flags = m.prev;
	c->new_flags = m.asked;
	c->file = file;
	c->flags |= written;
	call_context(c, task, start, end);
	return refuse(s, slot, task, rule);
}

/* mmap (every ABI), and execve's mappings: before the mapping exists. prot is effective (the
 * personality's EXEC included); the file offsets are not known here, so an alias is judged on
 * the whole file. */
SEC("lsm/mmap_file")
int BPF_PROG(lsm__mmap_file, struct file *file, unsigned long reqprot, unsigned long prot, unsigned long flags, int ret)
{
	if (ret || !enforce)
		return ret;
	int exec = (prot & PROT_EXEC) != 0;
	int shared_writable = mmap_shared_writable(file, flags);
	if (!exec && !shared_writable)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (!enforced_on(task, 1))
		return 0;
	__u32 slot;
	struct wx_scratch *s = refusal_slot(&slot);
	if (!s)
		return -EACCES; /* refused unjudged: a preempted run holds every slot (counted) */
	__u32 kind;
	__u8 rule = map_rule_walked(s, slot, file, exec, (prot & PROT_WRITE) != 0, shared_writable, &kind);
	if (!rule) {
		slot_done(s, slot);
		return 0;
	}
	struct wx_change *c = &s->change;
	c->alert = exec && (prot & PROT_WRITE) ? WX_ALERT_MMAP_W_X : WX_ALERT_NONE;
	c->new_flags = flags_asked(0, prot);
	c->file = file;
	c->flags = kind;
	call_context(c, task, 0, 0);
	return refuse(s, slot, task, rule);
}

/* shmat (and i386 ipc(SHMAT)): SHM_EXEC on a writable attach, or beside one. */
SEC("lsm/shm_shmat")
int BPF_PROG(lsm__shm_shmat, struct kern_ipc_perm *perm, char *shmaddr, int shmflg, int ret)
{
	if (ret || !enforce)
		return ret;
	int exec = (shmflg & SHM_EXEC) != 0, writable = !(shmflg & SHM_RDONLY);
	if (!exec && !writable)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (!enforced_on(task, 1))
		return 0;
	struct file *file = BPF_CORE_READ((struct shmid_kernel *)perm, shm_file);
	__u32 slot;
	struct wx_scratch *s = refusal_slot(&slot);
	if (!s)
		return -EACCES; /* refused unjudged: a preempted run holds every slot (counted) */
	__u32 kind;
	__u8 rule = map_rule_walked(s, slot, file, exec, writable, writable, &kind);
	if (!rule) {
		slot_done(s, slot);
		return 0;
	}
	struct wx_change *c = &s->change;
	c->alert = exec && writable ? WX_ALERT_MMAP_W_X : WX_ALERT_NONE;
	struct wx_call call = {};
	call_number(task, &call);
	c->syscall = call.syscall;
	if (call.compat)
		c->flags |= WX_F_COMPAT;
	c->addr = (__u64)shmaddr;
	c->new_flags = VM_READ | (writable ? VM_WRITE : 0) | (exec ? VM_EXEC : 0) | VM_SHARED;
	c->file = file;
	c->flags |= kind;
	return refuse(s, slot, task, rule);
}

/* A write through /proc/PID/mem (also /proc/self/mem, and through io_uring) into executable
 * memory of a process in the scope. The range is the call's; one not known (a vectored write,
 * io_uring) is refused whole. */
SEC("lsm/file_permission")
int BPF_PROG(lsm__file_permission, struct file *file, int mask, int ret)
{
	if (ret || !enforce || !(mask & MAY_WRITE) || !file)
		return ret;
	__u64 target = proc_mem_target(file);
	if (!target)
		return 0;
	struct task_struct *owner = mm_owner((void *)target);
	struct task_struct *task = bpf_get_current_task_btf();
	if (!owner || !enforced_on(owner, owner == task))
		return 0;
	struct wx_call call = {};
	struct wx_write w;
	current_call(task, &call);
	int known = !decode_write(task, &call, target, &w) && !(w.flags & WX_F_RANGE_UNSURE);
	__u32 slot;
	struct wx_scratch *s = refusal_slot(&slot);
	if (!s)
		return -EACCES;
	if (known) {
		/* written where nothing is executable: let it be (a later EXEC on it is refused) */
		struct exec_find f = { .cur = w.addr & ~(WX_CODE_PAGE - 1ULL), .end = w.addr + w.len, .mm = target, .slot = slot };
		bpf_loop(1024, exec_find_step, &f, 0);
		if (!f.found && f.done) {
			slot_done(s, slot);
			return 0;
		}
		s->change.vma_start = f.v.start;
		s->change.vma_end = f.v.end;
		s->change.prev_flags = s->change.new_flags = f.v.flags;
		s->change.file = f.v.file;
	} else {
		__builtin_memset(&w, 0, sizeof(w));
		s->change.flags |= WX_F_RANGE_UNSURE;
	}
	struct wx_change *c = &s->change;
	c->event = WX_EVENT_WRITE;
	c->route = WX_ROUTE_PROC_MEM;
	c->syscall = call.syscall;
	c->addr = w.addr;
	c->len = w.len;
	c->target_mm = (void *)target;
	if (target != (__u64)BPF_CORE_READ(task, mm))
		c->flags |= WX_F_CROSS_PROCESS;
	return refuse(s, slot, task, WX_RULE_EXEC_WRITE);
}

/* Another process attaching to one in the scope (ptrace, and what checks like it: opening its
 * /proc/PID/mem, process_vm_writev): no hook can refuse a single poke, so the attach is. */
SEC("lsm/ptrace_access_check")
int BPF_PROG(lsm__ptrace_access_check, struct task_struct *child, unsigned int mode, int ret)
{
	if (ret || !enforce || !(mode & PTRACE_MODE_ATTACH))
		return ret;
	struct task_struct *task = bpf_get_current_task_btf();
	if (!enforced_on(child, 0) || BPF_CORE_READ(child, tgid) == task->tgid)
		return 0;
	__u32 slot;
	struct wx_scratch *s = refusal_slot(&slot);
	if (!s)
		return -EACCES;
	struct wx_change *c = &s->change;
	c->event = WX_EVENT_WRITE;
	c->route = WX_ROUTE_PTRACE;
	c->target_mm = BPF_CORE_READ(child, mm);
	c->flags = WX_F_CROSS_PROCESS | WX_F_RANGE_UNSURE;
	return refuse(s, slot, task, WX_RULE_EXEC_WRITE);
}

/* PTRACE_TRACEME: a process in the scope offering itself to its parent, whose pokes then need
 * no attach (and no hook can refuse a poke): refused as an attach is. */
SEC("lsm/ptrace_traceme")
int BPF_PROG(lsm__ptrace_traceme, struct task_struct *parent, int ret)
{
	if (ret || !enforce)
		return ret;
	struct task_struct *task = bpf_get_current_task_btf();
	if (!enforced_on(task, 1) || BPF_CORE_READ(parent, tgid) == task->tgid)
		return 0;
	__u32 slot;
	struct wx_scratch *s = refusal_slot(&slot);
	if (!s)
		return -EACCES;
	struct wx_change *c = &s->change;
	c->event = WX_EVENT_WRITE;
	c->route = WX_ROUTE_PTRACE;
	c->target_mm = task->mm;
	c->flags = WX_F_RANGE_UNSURE;
	return refuse(s, slot, task, WX_RULE_EXEC_WRITE);
}

/* userfaultfd fills memory past its protection (UFFDIO_COPY into an executable VMA), with no
 * hook on the fill: a process in the scope gets no userfaultfd. */
SEC("lsm/inode_init_security_anon")
int BPF_PROG(lsm__inode_init_security_anon, struct inode *inode, const struct qstr *name, const struct inode *ctx_inode,
	     int ret)
{
	if (ret || !enforce)
		return ret;
	char n[14] = {};
	bpf_probe_read_kernel(n, sizeof(n), BPF_CORE_READ(name, name));
	if (n[0] != '[' || n[1] != 'u' || n[2] != 's' || n[3] != 'e' || n[4] != 'r' || n[5] != 'f' || n[12] != ']')
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (!enforced_on(task, 1))
		return 0;
	__u32 slot;
	struct wx_scratch *s = refusal_slot(&slot);
	if (!s)
		return -EACCES;
	struct wx_change *c = &s->change;
	c->event = WX_EVENT_WRITE;
	c->route = WX_ROUTE_USERFAULTFD;
	c->target_mm = task->mm;
	c->flags = WX_F_RANGE_UNSURE;
	return refuse(s, slot, task, WX_RULE_USERFAULTFD);
}

#endif /* WXWATCH_ENFORCE_BPF_H */
