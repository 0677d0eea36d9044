/* The write calls that can put bytes into another mm's executable memory, decoded from the
 * writer's registers (syscall.bpf.h): which route, where in the target, how much, where the bytes
 * are; and which call a task last reported, since one call reaches the target once per page.
 * Plain CO-RE reads only: the main object and the one for kernels before 6.0 (bpf/lts/) share it. */
#ifndef WXWATCH_WRITE_CALLS_BPF_H
#define WXWATCH_WRITE_CALLS_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "kernel.bpf.h"
#include "syscall.bpf.h"
#include "wxwatch.h"

#ifndef PAGE_SHIFT
#define PAGE_SHIFT 12
#endif
#define PROC_SUPER_MAGIC 0x9fa0
#define FOLL_WRITE 0x01
#define FOLL_FORCE 0x10 /* past the page's protection: /proc/PID/mem, ptrace */
#define VM_STACK_INCOMPLETE_SETUP (VM_RAND_READ | VM_SEQ_READ) /* an execve's stack, being set up */
#define WRITE_IOVECS 8 /* iovecs of a vectored write read to find its range */

/* The write call a task last reported: one call may take the target's lock once per page. */
struct wx_write_id {
	__s32 nr;
	__u32 compat;
	__u64 arg[4];
	__s64 pos;
	__u64 syscw;
};


/* One write, as far as the call tells: where in the target, how much, and where its bytes are. */
struct wx_write {
	__u64 addr;
	__u64 len;
	__u64 src;       /* the bytes, in the writer's memory (0: not known) */
	__u64 poke;      /* a ptrace poke's data (src points at it) */
	__s64 pos;
	__u32 flags;
	__u8 route;
	__u8 src_kernel;
};

/* The file behind descriptor fd of task, or 0. */
static __always_inline struct file *fd_file(struct task_struct *task, __u64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = 0;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd & 0xfffff]);
	return file;
}

/* /proc/PID/mem (or /proc/PID/task/TID/mem) of the process whose mm is target. */
static __always_inline int proc_mem_of(struct file *file, __u64 target)
{
	if (!file || BPF_CORE_READ(file, f_inode, i_sb, s_magic) != PROC_SUPER_MAGIC)
		return 0;
	if ((__u64)BPF_CORE_READ(file, private_data) != target)
		return 0;
	char name[4] = {};
	bpf_probe_read_kernel(name, sizeof(name), BPF_CORE_READ(file, f_path.dentry, d_name.name));
	return name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 0;
}

/* The mm a write to file would write into, if file is a /proc/PID/mem; else 0. */
static __always_inline __u64 proc_mem_target(struct file *file)
{
	if (!file || BPF_CORE_READ(file, f_inode, i_sb, s_magic) != PROC_SUPER_MAGIC)
		return 0;
	__u64 target = (__u64)BPF_CORE_READ(file, private_data);
	return proc_mem_of(file, target) ? target : 0;
}

/* A write to a file: where in it and how much, when the call is a write or pwrite64 on that
 * file (else *len stays 0: not known); the file pages it covers, else all of them. */
struct file_write {
	__s64 pos;
	__u64 len;
	__u64 src;   /* the bytes, in the writer's memory */
	__u64 first; /* file pages, inclusive */
	__u64 last;
};

static __always_inline void file_write_of(struct task_struct *task, struct wx_call *call, struct file *file, struct file_write *fw)
{
	__builtin_memset(fw, 0, sizeof(*fw));
	fw->last = ~0ULL;
	if (call->kind == WX_CALL_WRITE && (call->syscall == WX_SYS_WRITE || call->syscall == WX_SYS_PWRITE64) &&
	    fd_file(task, call->arg[0]) == file) {
		fw->pos = call->syscall == WX_SYS_WRITE ? BPF_CORE_READ(file, f_pos)
							: (call->ia32 ? (__s64)(call->arg[3] | call->arg[4] << 32) : (__s64)call->arg[3]);
		fw->len = call->arg[2];
		fw->src = call->arg[1];
	}
	if (fw->len && fw->pos >= 0) {
		fw->first = (__u64)fw->pos >> PAGE_SHIFT;
		fw->last = ((__u64)fw->pos + fw->len - 1) >> PAGE_SHIFT;
	}
}

struct iovec_user {
	__u64 base;
	__u64 len;
};

/* The total length of a vectored write, from its iovecs in the writer's memory (the kernel
 * has its own copy, out of reach here): flagged as read from there. */
static __always_inline __u64 iovecs_len(__u64 vec, __u64 vlen, int compat, __u32 *flags)
{
	__u64 total = 0;
	*flags |= WX_F_RANGE_UNSURE;
	for (int i = 0; i < WRITE_IOVECS; i++) {
		if (i >= vlen)
			break;
		__u64 len = 0;
		if (compat) {
			__u32 v[2] = {};
			bpf_probe_read_user(v, sizeof(v), (void *)(vec + i * 8));
			len = v[1];
		} else {
			struct iovec_user v = {};
			bpf_probe_read_user(&v, sizeof(v), (void *)(vec + i * 16));
			len = v.len;
		}
		total += len;
	}
	return total;
}

/* What the current call writes into target (decoded from its registers): 0 with *w filled, or
 * -1 if it is not a write into target's memory this can tell. */
static __always_inline int decode_write(struct task_struct *task, struct wx_call *call, __u64 target,
					struct wx_write *w)
{
	__builtin_memset(w, 0, sizeof(*w));
	if (call->kind == WX_CALL_PTRACE) {
		if (call->arg[0] != PTRACE_POKETEXT && call->arg[0] != PTRACE_POKEDATA)
			return -1;
		w->route = WX_ROUTE_PTRACE;
		w->addr = call->arg[2];
		w->len = call->compat ? 4 : 8;
		w->poke = call->arg[3];
		return 0;
	}
	if (call->kind == WX_CALL_PROCESS_VM) {
		/* process_vm_writev(pid, lvec, liovcnt, rvec, riovcnt, flags): the first remote iovec */
		struct iovec_user v = {};
		if (call->compat) {
			__u32 c[2] = {};
			bpf_probe_read_user(c, sizeof(c), (void *)call->arg[3]);
			v.base = c[0];
			v.len = c[1];
		} else {
			bpf_probe_read_user(&v, sizeof(v), (void *)call->arg[3]);
		}
		w->route = WX_ROUTE_PROCESS_VM;
		w->addr = v.base;
		w->len = v.len;
		w->flags = WX_F_RANGE_UNSURE;
		return 0;
	}
	if (call->kind != WX_CALL_WRITE)
		return -1;
	struct file *file = fd_file(task, call->arg[0]);
	if (!proc_mem_of(file, target))
		return -1;
	w->route = WX_ROUTE_PROC_MEM;
	__s64 fpos = BPF_CORE_READ(file, f_pos);
	/* i386 passes 64-bit offsets as two registers, low half first */
	__s64 pos = call->ia32 ? (__s64)(call->arg[3] | call->arg[4] << 32) : (__s64)call->arg[3];
	switch (call->syscall) {
	case WX_SYS_WRITE:
		w->pos = fpos;
		w->len = call->arg[2];
		w->src = call->arg[1];
		break;
	case WX_SYS_PWRITE64:
		w->pos = pos;
		w->len = call->arg[2];
		w->src = call->arg[1];
		break;
	case WX_SYS_WRITEV:
		w->pos = fpos;
		w->len = iovecs_len(call->arg[1], call->arg[2], call->compat, &w->flags);
		break;
	default: /* pwritev, pwritev2 (-1: at the file position) */
		w->pos = call->syscall == WX_SYS_PWRITEV2 && pos == -1 ? fpos : pos;
		w->len = iovecs_len(call->arg[1], call->arg[2], call->compat, &w->flags);
		break;
	}
	w->addr = w->pos;
	return 0;
}

/* Whether the current call is the one *last holds (the same write, reached again for another
 * page); remembers it there if not. */
static __always_inline int same_write_id(struct wx_write_id *last, struct task_struct *task, struct wx_call *call,
					 struct wx_write *w)
{
	struct wx_write_id now = { .nr = call->nr, .compat = call->compat, .pos = w->pos };
	for (int i = 0; i < 4; i++)
		now.arg[i] = call->arg[i];
	/* write system calls made so far (CONFIG_TASK_XACCT): tells two identical calls apart */
	if (bpf_core_field_exists(task->ioac.syscw))
		now.syscw = BPF_CORE_READ(task, ioac.syscw);
	int same = now.nr == last->nr && now.compat == last->compat && now.pos == last->pos &&
		   now.syscw == last->syscw && now.arg[0] == last->arg[0] && now.arg[1] == last->arg[1] &&
		   now.arg[2] == last->arg[2] && now.arg[3] == last->arg[3];
	*last = now;
	return same;
}

#endif /* WXWATCH_WRITE_CALLS_BPF_H */
