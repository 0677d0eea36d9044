/* Prevention on kernels before 6.0 (bpf/enforce.bpf.h's, for the LTS object): the same BPF LSM
 * hooks and the same rules (enforce-rules.bpf.h), on what these kernels have. BPF LSM must be
 * active (lsm=...,bpf on 5.10's command line: user space refuses to start without it). Where it
 * differs: these kernels have no hook at a userfaultfd's creation (inode_init_security_anon,
 * 5.12), so its fills are refused instead — UFFDIO_COPY and UFFDIO_CONTINUE into the memory of
 * a process in the scope, whoever holds the descriptor; a file's views are walked 16 at most
 * (more: judged an alias, refused). Included at the end of wxwatch-lts.bpf.c, after the VMA tree
 * and alias walks it uses. */
#ifndef WXWATCH_ENFORCE_LTS_BPF_H
#define WXWATCH_ENFORCE_LTS_BPF_H

#include "enforce-rules.bpf.h"

#define UFFDIO_COPY 0xc028aa03     /* _IOWR(0xAA, 3, struct uffdio_copy): the same on i386 */
#define UFFDIO_CONTINUE 0xc020aa07 /* _IOWR(0xAA, 7, struct uffdio_continue), 5.13 */

/* fs/userfaultfd.c's context: the mm its ranges are registered in. */
struct userfaultfd_ctx___lts {
	struct mm_struct *mm;
} __attribute__((preserve_access_index));

/* Writes the blocked record for a refusal (the change, in the slot) and returns -EACCES. */
static __always_inline int lts_refuse(struct lts_scratch *s, __u8 rule)
{
	struct lts_change *c = &s->change;
	c->flags |= WX_F_BLOCKED;
	c->rule = rule;
	c->ret = -EACCES;
	lts_emit(s, 0);
	lts_slot_put(s);
	return -EACCES;
}

/* A write event's record: what the write reached, as far as the hook knows. */
static __always_inline void lts_write_event(struct lts_change *c, __u8 route, struct mm_struct *target, __u32 flags)
{
	c->event = WX_EVENT_WRITE;
	c->route = route;
	c->target_mm = target;
	c->flags |= flags;
}

/* map_rule, with the walk it leaves to the caller. */
static __always_inline __u8 lts_map_rule(struct lts_scratch *s, struct file *file, int exec, int writable, int shared_writable, __u32 *kind)
{
	__u8 rule = map_rule(file, exec, writable, shared_writable, kind);
	if (rule == WX_RULE_IF_EXEC_VIEW)
		rule = lts_file_has_exec_view(s, file) ? WX_RULE_ALIAS : WX_RULE_NONE;
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
	struct task_struct *task = current_task();
	if (!enforced_on(task, 1))
		return 0;
	struct file *file = BPF_CORE_READ(vma, vm_file);
	__u32 written = memory_flags(vma, file);
	__u8 rule = mprotect_rule(&m, written);
	if (!rule && !file)
		return 0;
	struct lts_scratch *s = lts_slot_or_count();
	if (!s) /* unjudged (counted): refused, as the mmap path does */
		return -EACCES;
	struct lts_change *c = &s->change;
	__u64 start = BPF_CORE_READ(vma, vm_start), end = BPF_CORE_READ(vma, vm_end);
	if (!rule) {
		/* an executable view of a writable one, or a writable view of an executable one */
		lts_judge_view(s, vma, file, start, end, mprotect_alias_flags(&m), m.gained_exec, 1);
		if (m.gained_write_shared && !(c->flags & WX_F_WRITABLE_ALIAS) && lts_file_has_exec_view(s, file))
			c->flags |= WX_F_WRITABLE_ALIAS | WX_F_ALIAS_EXEC_FIRST;
		if (!(c->flags & WX_F_WRITABLE_ALIAS)) {
			lts_slot_put(s);
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
	lts_call_context(c, task, start, end);
	return lts_refuse(s, rule);
}

/* mmap (every ABI), and execve's mappings: before the mapping exists (prot effective). */
SEC("lsm/mmap_file")
int BPF_PROG(lsm__mmap_file, struct file *file, unsigned long reqprot, unsigned long prot, unsigned long flags, int ret)
{
	if (ret || !enforce)
		return ret;
	int exec = (prot & PROT_EXEC) != 0;
	int shared_writable = mmap_shared_writable(file, flags);
	if (!exec && !shared_writable)
		return 0;
	struct task_struct *task = current_task();
	if (!enforced_on(task, 1))
		return 0;
	struct lts_scratch *s = lts_slot_or_count();
	if (!s)
		return -EACCES; /* refused unjudged (counted) */
	__u32 kind;
	__u8 rule = lts_map_rule(s, file, exec, (prot & PROT_WRITE) != 0, shared_writable, &kind);
	if (!rule) {
		lts_slot_put(s);
		return 0;
	}
	struct lts_change *c = &s->change;
	c->alert = exec && (prot & PROT_WRITE) ? WX_ALERT_MMAP_W_X : WX_ALERT_NONE;
	c->new_flags = flags_asked(0, prot);
	c->file = file;
	c->flags = kind;
	lts_call_context(c, task, 0, 0);
	return lts_refuse(s, rule);
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
	struct task_struct *task = current_task();
	if (!enforced_on(task, 1))
		return 0;
	struct file *file = BPF_CORE_READ((struct shmid_kernel *)perm, shm_file);
	struct lts_scratch *s = lts_slot_or_count();
	if (!s)
		return -EACCES; /* refused unjudged (counted) */
	__u32 kind;
	__u8 rule = lts_map_rule(s, file, exec, writable, writable, &kind);
	if (!rule) {
		lts_slot_put(s);
		return 0;
	}
	struct lts_change *c = &s->change;
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
	return lts_refuse(s, rule);
}

/* A write through /proc/PID/mem (also /proc/self/mem) into executable memory of a process in
 * the scope. The range is the call's; one not known (a vectored write, io_uring), or with more
 * VMAs than are looked at, is refused whole. */
SEC("lsm/file_permission")
int BPF_PROG(lsm__file_permission, struct file *file, int mask, int ret)
{
	if (ret || !enforce || !(mask & LTS_MAY_WRITE) || !file)
		return ret;
	__u64 target = proc_mem_target(file);
	if (!target)
		return 0;
	struct task_struct *owner = lts_mm_owner((void *)target);
	struct task_struct *task = current_task();
	if (!owner || !enforced_on(owner, owner == task))
		return 0;
	struct wx_call call = {};
	struct wx_write w;
	current_call(task, &call);
	int known = !decode_write(task, &call, target, &w) && !(w.flags & WX_F_RANGE_UNSURE);
	struct lts_scratch *s = lts_slot_or_count();
	if (!s)
		return -EACCES;
	struct lts_change *c = &s->change;
	if (known) {
		/* written where nothing is executable: let it be (a later EXEC on it is refused) */
		int unsure;
		struct vm_area_struct *vma = lts_exec_vma_in((void *)target, w.addr & ~(WX_CODE_PAGE - 1ULL), w.addr + w.len, &unsure);
		if (!vma && !unsure) {
			lts_slot_put(s);
			return 0;
		}
		if (vma) {
			c->vma_start = BPF_CORE_READ(vma, vm_start);
			c->vma_end = BPF_CORE_READ(vma, vm_end);
			c->prev_flags = c->new_flags = BPF_CORE_READ(vma, vm_flags);
			c->file = BPF_CORE_READ(vma, vm_file);
		} else {
			c->flags |= WX_F_RANGE_UNSURE;
		}
	} else {
		__builtin_memset(&w, 0, sizeof(w));
		c->flags |= WX_F_RANGE_UNSURE;
	}
	c->syscall = call.syscall;
	c->addr = w.addr;
	c->len = w.len;
	lts_write_event(c, WX_ROUTE_PROC_MEM, (void *)target,
			target != (__u64)BPF_CORE_READ(task, mm) ? WX_F_CROSS_PROCESS : 0);
	return lts_refuse(s, WX_RULE_EXEC_WRITE);
}

/* Another process attaching to one in the scope (ptrace, and what checks like it): no hook can
 * refuse a single poke, so the attach is. */
SEC("lsm/ptrace_access_check")
int BPF_PROG(lsm__ptrace_access_check, struct task_struct *child, unsigned int mode, int ret)
{
	if (ret || !enforce || !(mode & PTRACE_MODE_ATTACH))
		return ret;
	struct task_struct *task = current_task();
	if (!enforced_on(child, 0) || BPF_CORE_READ(child, tgid) == BPF_CORE_READ(task, tgid))
		return 0;
	struct lts_scratch *s = lts_slot_or_count();
	if (!s)
		return -EACCES;
	lts_write_event(&s->change, WX_ROUTE_PTRACE, BPF_CORE_READ(child, mm), WX_F_CROSS_PROCESS | WX_F_RANGE_UNSURE);
	return lts_refuse(s, WX_RULE_EXEC_WRITE);
}

/* PTRACE_TRACEME: a process in the scope offering itself to its parent: refused as an attach. */
SEC("lsm/ptrace_traceme")
int BPF_PROG(lsm__ptrace_traceme, struct task_struct *parent, int ret)
{
	if (ret || !enforce)
		return ret;
	struct task_struct *task = current_task();
	if (!enforced_on(task, 1) || BPF_CORE_READ(parent, tgid) == BPF_CORE_READ(task, tgid))
		return 0;
	struct lts_scratch *s = lts_slot_or_count();
	if (!s)
		return -EACCES;
	lts_write_event(&s->change, WX_ROUTE_PTRACE, BPF_CORE_READ(task, mm), WX_F_RANGE_UNSURE);
	return lts_refuse(s, WX_RULE_EXEC_WRITE);
}

/* userfaultfd fills memory past its protection, with no hook on the fill: UFFDIO_COPY and
 * UFFDIO_CONTINUE into the memory of a process in the scope are refused, by whoever asks (the
 * descriptor can be passed to another process; its ranges stay in its creator's mm). */
SEC("lsm/file_ioctl")
int BPF_PROG(lsm__file_ioctl, struct file *file, unsigned int cmd, unsigned long arg, int ret)
{
	if (ret || !enforce || (cmd != UFFDIO_COPY && cmd != UFFDIO_CONTINUE) || !file)
		return ret;
	char n[14] = {};
	bpf_probe_read_kernel(n, sizeof(n), BPF_CORE_READ(file, f_path.dentry, d_name.name));
	if (n[0] != '[' || n[1] != 'u' || n[2] != 's' || n[3] != 'e' || n[4] != 'r' || n[5] != 'f' || n[12] != ']')
		return 0;
	struct task_struct *task = current_task();
	struct mm_struct *mm = 0;
	if (bpf_core_type_exists(struct userfaultfd_ctx___lts)) {
		struct userfaultfd_ctx___lts *ctx = BPF_CORE_READ(file, private_data);
		mm = BPF_CORE_READ(ctx, mm);
	}
	struct task_struct *owner = lts_mm_owner(mm);
	if (!owner) /* the context's owner not known: the caller's scope decides */
		owner = task;
	if (!enforced_on(owner, owner == task))
		return 0;
	struct lts_scratch *s = lts_slot_or_count();
	if (!s)
		return -EACCES;
	lts_write_event(&s->change, WX_ROUTE_USERFAULTFD, mm ? mm : BPF_CORE_READ(task, mm),
			mm && mm != BPF_CORE_READ(task, mm) ? WX_F_CROSS_PROCESS | WX_F_RANGE_UNSURE : WX_F_RANGE_UNSURE);
	return lts_refuse(s, WX_RULE_USERFAULTFD);
}

#endif /* WXWATCH_ENFORCE_LTS_BPF_H */
