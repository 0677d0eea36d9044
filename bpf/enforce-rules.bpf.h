/* What enforcement refuses, decided the same way by both objects (bpf/enforce.bpf.h, and
 * bpf/lts/enforce-lts.bpf.h for kernels before 6.0): from the hook's arguments and the VMA or
 * file as they are before the change. Each object walks a file's views its own way, so a rule
 * that needs the walk is left to the caller (WX_RULE_IF_EXEC_VIEW, or mprotect_rule's NONE). */
#ifndef WXWATCH_ENFORCE_RULES_BPF_H
#define WXWATCH_ENFORCE_RULES_BPF_H

#include <bpf/bpf_core_read.h>
#include "kernel.bpf.h"
#include "memory.bpf.h"
#include "wxwatch.h"

#define EACCES 13
#define FMODE_WRITE 0x2
#define PTRACE_MODE_ATTACH 0x02
#define MAP_TYPE 0x0f

/* Refused as an alias if the file has a view executable now (the caller's walk decides). */
#define WX_RULE_IF_EXEC_VIEW 0xff

/* The VMA's flags if a request (prot as the security hooks see it: EXEC added by the
 * personality included) were applied. */
static __always_inline __u64 flags_asked(__u64 prev, unsigned long prot)
{
	return (prev & ~VM_ACCESS) | (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) |
	       (prot & PROT_EXEC ? VM_EXEC : 0);
}

/* file_mprotect's question: a VMA with flags prev asked to take prot. */
struct mprotect_ask {
	__u64 prev;
	__u64 asked;
	__u8 gained_exec;
	__u8 gained_write_shared;
};

/* Fills m; 0 when nothing is asked that enforcement refuses (no X, no W gained on a shared view). */
static __always_inline int mprotect_asks(struct mprotect_ask *m, __u64 prev, unsigned long prot)
{
	m->prev = prev;
	m->asked = flags_asked(prev, prot);
	m->gained_exec = !(prev & VM_EXEC) && (m->asked & VM_EXEC);
	m->gained_write_shared = !(prev & VM_WRITE) && (m->asked & VM_WRITE) && (prev & VM_SHARED);
	return (m->asked & VM_EXEC) || m->gained_write_shared;
}

/* What it is refused for, before aliases (written: memory_flags() of the VMA); WX_RULE_NONE
 * when only an alias could refuse it (the caller's walk, on a file's VMA). */
static __always_inline __u8 mprotect_rule(struct mprotect_ask *m, __u32 written)
{
	__u64 prev = m->prev, asked = m->asked;
	/* Written memory gaining X is refused as that, the more telling rule, even when it would
	 * stay writable too (RW, write, RWX): the finding is the written-then-executable one. */
	if (m->gained_exec && (written & WX_F_WRITTEN))
		return WX_RULE_WRITTEN_EXEC;
	if ((asked & VM_EXEC) && (asked & VM_WRITE) && !((prev & VM_EXEC) && (prev & VM_WRITE)))
		return WX_RULE_WRITE_EXEC;
	if (m->gained_exec && (prev & VM_WRITE))
		return WX_RULE_WRITTEN_EXEC;
	if (m->gained_exec && (written & WX_F_IN_MEMORY_FILE))
		return WX_RULE_IN_MEMORY_FILE;
	return WX_RULE_NONE;
}

/* The flags an alias walk judges the VMA by: a view about to be writable and shared counts as
 * one that may write. */
static __always_inline __u64 mprotect_alias_flags(struct mprotect_ask *m)
{
	return m->gained_write_shared ? m->prev | VM_MAYWRITE : m->prev;
}

/* mmap_file and shm_shmat: a new view of file (NULL: anonymous), executable (exec), writable
 * (writable), shared and writable through its file (shared_writable). *kind: the record's flags
 * for the rule. The file offsets are not known here, so an alias is judged on the whole file. */
static __always_inline __u8 map_rule(struct file *file, int exec, int writable, int shared_writable, __u32 *kind)
{
	*kind = 0;
	if (exec && writable)
		return WX_RULE_WRITE_EXEC;
	if (exec && in_memory_file(file)) {
		*kind = WX_F_IN_MEMORY_FILE;
		return WX_RULE_IN_MEMORY_FILE;
	}
	if (exec && file && BPF_CORE_READ(file, f_mapping, i_mmap_writable.counter) > 0) {
		*kind = WX_F_WRITABLE_ALIAS;
		return WX_RULE_ALIAS;
	}
	if (!exec && shared_writable && file) {
		*kind = WX_F_WRITABLE_ALIAS | WX_F_ALIAS_EXEC_FIRST;
		return WX_RULE_IF_EXEC_VIEW;
	}
	return WX_RULE_NONE;
}

/* mmap_file's view: shared and writable through its file. */
static __always_inline int mmap_shared_writable(struct file *file, unsigned long flags)
{
	return file && (flags & MAP_TYPE) != 0x02 && (BPF_CORE_READ(file, f_mode) & FMODE_WRITE);
}

#endif /* WXWATCH_ENFORCE_RULES_BPF_H */
