/* The system call the current task is in, read from the registers it entered the kernel with,
 * for every ABI of x86-64: native, i386 (int 0x80 / sysenter, also from a 64-bit process) and
 * x32, decoded the way the kernel decodes it (the number is the low 32 bits of rax). Hooks deep
 * inside the kernel use it to tell which call made a change and with what arguments, without a
 * syscall tracepoint (which would slow every system call of the host). Arguments are registers;
 * the one argument block in user memory (i386 old_mmap) is read once, when the call's section
 * opens, and never again. */
#ifndef WXWATCH_SYSCALL_BPF_H
#define WXWATCH_SYSCALL_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "kernel.bpf.h"
#include "wxwatch.h"

#define TS_COMPAT 0x0002               /* arch/x86/include/asm/thread_info.h */
#define X32_SYSCALL_BIT 0x40000000
#define READ_IMPLIES_EXEC 0x0400000    /* include/uapi/linux/personality.h */

/* The registers the task entered the kernel with; an object for kernels before bpf_task_pt_regs
 * (5.15) defines its own before including this file (lts/). */
#ifndef wx_task_pt_regs
#define wx_task_pt_regs(task) ((struct pt_regs *)bpf_task_pt_regs(task))
/* bpf_task_pt_regs() and bpf_get_current_task_btf() give typed pointers: their fields are plain
 * loads, not a helper call each */
#define WX_REG(regs, reg) ((regs)->reg)
#define WX_TASK_STATUS(task) ((task)->thread_info.status)
#define WX_CURRENT_PERSONALITY() (bpf_get_current_task_btf()->personality)
#else
#define WX_REG(regs, reg) BPF_CORE_READ(regs, reg)
#define WX_TASK_STATUS(task) BPF_CORE_READ(task, thread_info.status)
#define WX_CURRENT_PERSONALITY() BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), personality)
#endif

#define PROT_READ 0x1
#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#define MAP_SHARED 0x01
#define MAP_FIXED 0x10
#define SHM_RDONLY 010000
#define SHM_EXEC 0100000
#define IPC_SHMAT 21

/* Whether a call asking for prot can make anything executable: PROT_EXEC, or PROT_READ under
 * READ_IMPLIES_EXEC (do_mprotect_pkey adds EXEC then). Every other call writes no record and
 * needs no state: most mprotect calls (RW→R, guard pages) pay no map operation. */
static __always_inline int may_make_exec(unsigned long prot)
{
	if (prot & PROT_EXEC)
		return 1;
	return (prot & PROT_READ) && (WX_CURRENT_PERSONALITY() & READ_IMPLIES_EXEC);
}
#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5

enum wx_call_kind {
	WX_CALL_NONE = 0,
	WX_CALL_CHANGE = 1,  /* changes existing mappings: mprotect, pkey_mprotect */
	WX_CALL_CREATE = 2,  /* creates them: mmap, mmap2, old mmap, shmat (also through ipc), exec */
	WX_CALL_WRITE = 3,   /* the write family: may write through /proc/PID/mem */
	WX_CALL_PTRACE = 4,
	WX_CALL_PROCESS_VM = 5,
};

struct wx_call {
	__u64 addr;
	__u64 len;
	__u64 arg[6];   /* the raw register arguments, zero-extended for 32-bit calls */
	__s32 nr;       /* as the kernel reads it: the low 32 bits, x32 bit cleared */
	__s32 prot;     /* create and change calls: as requested */
	__u32 map_flags;
	__u16 syscall;  /* enum wx_syscall */
	__u8 kind;      /* enum wx_call_kind */
	__u8 compat;    /* i386 or x32 */
	__u8 ia32;
	__u8 _pad[7];
};

/* i386 old_mmap's argument block (struct mmap_arg_struct32). */
struct wx_old_mmap_args {
	__u32 addr, len, prot, flags, fd, offset;
};

static __always_inline void call_of_nr(struct wx_call *c)
{
	__u16 sys = WX_SYS_OTHER;
	__u8 kind = WX_CALL_NONE;
	if (c->ia32) {
		switch (c->nr) {
		case 125: sys = WX_SYS_MPROTECT; kind = WX_CALL_CHANGE; break;
		case 380: sys = WX_SYS_PKEY_MPROTECT; kind = WX_CALL_CHANGE; break;
		case 192: sys = WX_SYS_MMAP2; kind = WX_CALL_CREATE; break;
		case 90: sys = WX_SYS_OLD_MMAP; kind = WX_CALL_CREATE; break;
		case 397: sys = WX_SYS_SHMAT; kind = WX_CALL_CREATE; break;
		case 117: sys = WX_SYS_IPC; kind = WX_CALL_CREATE; break;
		case 11: sys = WX_SYS_EXECVE; kind = WX_CALL_CREATE; break;
		case 358: sys = WX_SYS_EXECVEAT; kind = WX_CALL_CREATE; break;
		case 4: sys = WX_SYS_WRITE; kind = WX_CALL_WRITE; break;
		case 181: sys = WX_SYS_PWRITE64; kind = WX_CALL_WRITE; break;
		case 146: sys = WX_SYS_WRITEV; kind = WX_CALL_WRITE; break;
		case 334: sys = WX_SYS_PWRITEV; kind = WX_CALL_WRITE; break;
		case 379: sys = WX_SYS_PWRITEV2; kind = WX_CALL_WRITE; break;
		case 26: sys = WX_SYS_PTRACE; kind = WX_CALL_PTRACE; break;
		case 348: sys = WX_SYS_PROCESS_VM_WRITEV; kind = WX_CALL_PROCESS_VM; break;
		case 426: sys = WX_SYS_IO_URING_ENTER; break;
		case 54: sys = WX_SYS_IOCTL; break;
		}
	} else {
		/* x32 shares the native numbers below 512 and has its own above */
		switch (c->nr) {
		case 10: sys = WX_SYS_MPROTECT; kind = WX_CALL_CHANGE; break;
		case 329: sys = WX_SYS_PKEY_MPROTECT; kind = WX_CALL_CHANGE; break;
		case 9: sys = WX_SYS_MMAP; kind = WX_CALL_CREATE; break;
		case 30: sys = WX_SYS_SHMAT; kind = WX_CALL_CREATE; break;
		case 59: case 520: sys = WX_SYS_EXECVE; kind = WX_CALL_CREATE; break;
		case 322: case 545: sys = WX_SYS_EXECVEAT; kind = WX_CALL_CREATE; break;
		case 1: sys = WX_SYS_WRITE; kind = WX_CALL_WRITE; break;
		case 18: sys = WX_SYS_PWRITE64; kind = WX_CALL_WRITE; break;
		case 20: case 516: sys = WX_SYS_WRITEV; kind = WX_CALL_WRITE; break;
		case 296: case 535: sys = WX_SYS_PWRITEV; kind = WX_CALL_WRITE; break;
		case 328: case 547: sys = WX_SYS_PWRITEV2; kind = WX_CALL_WRITE; break;
		case 101: case 521: sys = WX_SYS_PTRACE; kind = WX_CALL_PTRACE; break;
		case 311: case 540: sys = WX_SYS_PROCESS_VM_WRITEV; kind = WX_CALL_PROCESS_VM; break;
		case 426: sys = WX_SYS_IO_URING_ENTER; break;
		case 16: case 514: sys = WX_SYS_IOCTL; break;
		}
	}
	c->syscall = sys;
	c->kind = kind;
}

/* The call's number and ABI only: enough to classify it, and to tell whether a lock section
 * still belongs to the call that opened it. */
static __always_inline struct pt_regs *call_number(struct task_struct *task, struct wx_call *c)
{
	struct pt_regs *regs = wx_task_pt_regs(task);
	/* do_syscall_64 and the 32-bit entries use the low 32 bits of rax, as an int */
	__s32 nr = (__s32)WX_REG(regs, orig_ax);
	c->ia32 = (WX_TASK_STATUS(task) & TS_COMPAT) != 0;
	int x32 = !c->ia32 && (nr & X32_SYSCALL_BIT);
	c->nr = x32 ? nr & ~X32_SYSCALL_BIT : nr;
	c->compat = c->ia32 || x32;
	call_of_nr(c);
	return regs;
}

/* The call's number and whether it came in through the i386 entry, and nothing else: enough to
 * tell whether a lock section still belongs to the call that opened it. */
static __always_inline __s32 call_nr(struct task_struct *task, __u8 *ia32)
{
	struct pt_regs *regs = wx_task_pt_regs(task);
	__s32 nr = (__s32)WX_REG(regs, orig_ax);
	*ia32 = (WX_TASK_STATUS(task) & TS_COMPAT) != 0;
	return !*ia32 && (nr & X32_SYSCALL_BIT) ? nr & ~X32_SYSCALL_BIT : nr;
}

/* Decodes the current call. Returns its kind (WX_CALL_NONE for calls that neither create nor
 * change mappings nor may write another process's memory). */
static __always_inline int call_args(struct pt_regs *regs, struct wx_call *c);

static __always_inline int current_call(struct task_struct *task, struct wx_call *c)
{
	struct pt_regs *regs = call_number(task, c);
	/* Most lock sections belong to other calls: classify before reading any argument. */
	if (c->kind == WX_CALL_NONE)
		return WX_CALL_NONE;
	return call_args(regs, c);
}

/* The arguments of a call call_number() classified (regs is what it returned). */
static __always_inline int call_args(struct pt_regs *regs, struct wx_call *c)
{
	if (c->ia32) {
		c->arg[0] = (__u32)WX_REG(regs, bx);
		c->arg[1] = (__u32)WX_REG(regs, cx);
		c->arg[2] = (__u32)WX_REG(regs, dx);
		c->arg[3] = (__u32)WX_REG(regs, si);
		c->arg[4] = (__u32)WX_REG(regs, di);
		c->arg[5] = (__u32)WX_REG(regs, bp);
	} else {
		c->arg[0] = WX_REG(regs, di);
		c->arg[1] = WX_REG(regs, si);
		c->arg[2] = WX_REG(regs, dx);
		c->arg[3] = WX_REG(regs, r10);
		c->arg[4] = WX_REG(regs, r8);
		c->arg[5] = WX_REG(regs, r9);
	}
	c->addr = c->arg[0];
	c->len = c->arg[1];
	c->prot = (__s32)c->arg[2];
	c->map_flags = (__u32)c->arg[3];
	switch (c->syscall) {
	case WX_SYS_OLD_MMAP: {
		/* The only argument in user memory: read here, once (a MAP_FIXED call may replace the
		 * page it sits in, and a sibling may rewrite it). */
		struct wx_old_mmap_args m = {};
		bpf_probe_read_user(&m, sizeof(m), (void *)c->arg[0]);
		c->addr = m.addr;
		c->len = m.len;
		c->prot = m.prot;
		c->map_flags = m.flags;
		break;
	}
	case WX_SYS_IPC:
		/* ipc(call, first = id, second = flags, third, ptr = addr, fifth): only SHMAT maps */
		if ((c->arg[0] & 0xffff) != IPC_SHMAT || (c->arg[0] >> 16) == 1) {
			c->kind = WX_CALL_NONE;
			return WX_CALL_NONE;
		}
		c->arg[2] = c->arg[2] & 0xffffffff;
		c->addr = c->arg[4];
		goto shmat;
	case WX_SYS_SHMAT:
		/* shmat(id, addr, flags) */
		c->addr = c->arg[1];
	shmat:
		c->len = 0;
		c->prot = PROT_READ | (c->arg[2] & SHM_RDONLY ? 0 : PROT_WRITE) | (c->arg[2] & SHM_EXEC ? PROT_EXEC : 0);
		c->map_flags = MAP_SHARED;
		break;
	case WX_SYS_EXECVE:
	case WX_SYS_EXECVEAT:
		/* The new image and its interpreter are mapped with the protections of their
		 * segments: any of them may be executable. */
		c->addr = 0;
		c->len = 0;
		c->prot = PROT_READ | PROT_EXEC;
		c->map_flags = 0;
		break;
	}
	return c->kind;
}

/* Whether a create or change call can make anything executable (EXEC asked for, or implied
 * by READ under the READ_IMPLIES_EXEC personality), or can create a shared mapping that may
 * write (the writable view of an executable alias). */
static __always_inline int may_matter_as(struct task_struct *task, __u8 kind, __s32 prot, __u32 map_flags)
{
	if (prot & PROT_EXEC)
		return 1;
	if ((prot & PROT_READ) && (task->personality & READ_IMPLIES_EXEC))
		return 1;
	return kind == WX_CALL_CREATE && (map_flags & MAP_SHARED);
}

static __always_inline int may_matter(struct task_struct *task, struct wx_call *c)
{
	return may_matter_as(task, c->kind, c->prot, c->map_flags);
}

/* may_matter() from two registers, before the other arguments are read, for the calls whose
 * protection and flags are plain register arguments (in dx and r10, or dx and si for i386):
 * most mprotect and mmap calls ask for nothing executable. 1 for every other call (decode it). */
static __always_inline int may_matter_early(struct task_struct *task, struct pt_regs *regs, struct wx_call *c)
{
	switch (c->syscall) {
	case WX_SYS_MPROTECT:
	case WX_SYS_PKEY_MPROTECT:
	case WX_SYS_MMAP:
	case WX_SYS_MMAP2:
		break;
	default:
		return 1;
	}
	__s32 prot = (__s32)WX_REG(regs, dx);
	__u32 map_flags = c->kind == WX_CALL_CREATE ? (__u32)(c->ia32 ? WX_REG(regs, si) : WX_REG(regs, r10)) : 0;
	return may_matter_as(task, c->kind, prot, map_flags);
}

#endif /* WXWATCH_SYSCALL_BPF_H */
