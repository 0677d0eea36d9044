/* The system call the current task is in, read from the registers it entered the kernel with,
 * for every ABI of x86-64: native, i386 (int 0x80 / sysenter, also from a 64-bit process) and
 * x32. Hooks deep inside the kernel use it to tell which call made a change and with what
 * arguments, without a syscall tracepoint (which would slow every system call of the host). */
#ifndef WXWATCH_SYSCALL_BPF_H
#define WXWATCH_SYSCALL_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "kernel.bpf.h"
#include "wxwatch.h"

#define TS_COMPAT 0x0002               /* arch/x86/include/asm/thread_info.h */
#define X32_SYSCALL_BIT 0x40000000
#define READ_IMPLIES_EXEC 0x0400000    /* include/uapi/linux/personality.h */

#define PROT_READ 0x1
#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#define MAP_FIXED 0x10
#define SHM_RDONLY 010000
#define SHM_EXEC 0100000

enum wx_call_kind {
	WX_CALL_NONE = 0,
	WX_CALL_CHANGE = 1, /* changes existing mappings: mprotect, pkey_mprotect */
	WX_CALL_CREATE = 2, /* creates one: mmap, mmap2, old mmap, shmat */
};

struct wx_call {
	__u64 addr;
	__u64 len;
	__s32 prot;     /* as requested */
	__u32 map_flags;
	__u16 syscall;  /* enum wx_syscall */
	__u8 kind;      /* enum wx_call_kind */
	__u8 compat;
};

/* i386 old_mmap's argument block (struct mmap_arg_struct32). */
struct wx_old_mmap_args {
	__u32 addr, len, prot, flags, fd, offset;
};

static __always_inline void call_of_nr(struct wx_call *c, long nr, int ia32)
{
	c->syscall = WX_SYS_OTHER;
	c->kind = WX_CALL_NONE;
	if (ia32) {
		switch (nr) {
		case 125: c->syscall = WX_SYS_MPROTECT; break;
		case 380: c->syscall = WX_SYS_PKEY_MPROTECT; break;
		case 192: c->syscall = WX_SYS_MMAP2; break;
		case 90: c->syscall = WX_SYS_OLD_MMAP; break;
		case 397: c->syscall = WX_SYS_SHMAT; break;
		}
	} else {
		switch (nr) {
		case 10: c->syscall = WX_SYS_MPROTECT; break;
		case 329: c->syscall = WX_SYS_PKEY_MPROTECT; break;
		case 9: c->syscall = WX_SYS_MMAP; break;
		case 30: c->syscall = WX_SYS_SHMAT; break;
		}
	}
	if (c->syscall == WX_SYS_MPROTECT || c->syscall == WX_SYS_PKEY_MPROTECT)
		c->kind = WX_CALL_CHANGE;
	else if (c->syscall != WX_SYS_OTHER)
		c->kind = WX_CALL_CREATE;
}

/* Decodes the current call. Returns its kind (WX_CALL_NONE for calls that neither create nor
 * change mappings). */
static __always_inline int current_call(struct task_struct *task, struct wx_call *c)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	long nr = BPF_CORE_READ(regs, orig_ax);
	__u64 a0, a1, a2, a3;
	/* i386 (int 0x80, sysenter: TS_COMPAT) has its own numbers; x32 marks the native ones. */
	int ia32 = (BPF_CORE_READ(task, thread_info.status) & TS_COMPAT) != 0;
	int x32 = !ia32 && (nr & X32_SYSCALL_BIT);
	/* Most lock sections belong to other calls: classify before reading any argument. */
	call_of_nr(c, x32 ? nr & ~X32_SYSCALL_BIT : nr, ia32);
	if (c->kind == WX_CALL_NONE)
		return WX_CALL_NONE;
	if (ia32) {
		a0 = (__u32)BPF_CORE_READ(regs, bx);
		a1 = (__u32)BPF_CORE_READ(regs, cx);
		a2 = (__u32)BPF_CORE_READ(regs, dx);
		a3 = (__u32)BPF_CORE_READ(regs, si);
	} else {
		a0 = BPF_CORE_READ(regs, di);
		a1 = BPF_CORE_READ(regs, si);
		a2 = BPF_CORE_READ(regs, dx);
		a3 = BPF_CORE_READ(regs, r10);
	}
	c->compat = ia32 || x32;
	c->addr = a0;
	c->len = a1;
	c->prot = (__s32)a2;
	c->map_flags = (__u32)a3;
	if (c->syscall == WX_SYS_OLD_MMAP) {
		struct wx_old_mmap_args m = {};
		bpf_probe_read_user(&m, sizeof(m), (void *)a0);
		c->addr = m.addr;
		c->len = m.len;
		c->prot = m.prot;
		c->map_flags = m.flags;
	} else if (c->syscall == WX_SYS_SHMAT) {
		/* shmat(id, addr, flags): the mapping's protection comes from the flags. */
		__u32 flags = (__u32)a2;
		c->addr = a1;
		c->len = 0;
		c->prot = PROT_READ | (flags & SHM_RDONLY ? 0 : PROT_WRITE) | (flags & SHM_EXEC ? PROT_EXEC : 0);
		c->map_flags = 0;
	}
	return c->kind;
}

/* Whether the call can make anything executable: EXEC asked for, or implied by READ under the
 * READ_IMPLIES_EXEC personality (the kernel then adds it itself). */
static __always_inline int may_exec(struct task_struct *task, __s32 prot)
{
	if (prot & PROT_EXEC)
		return 1;
	return (prot & PROT_READ) && (task->personality & READ_IMPLIES_EXEC);
}

#endif /* WXWATCH_SYSCALL_BPF_H */
