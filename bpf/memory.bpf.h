/* What a change is and what memory it is about, from CO-RE reads of the kernel's structures
 * only (no helper newer than 5.8): Tracee's alert kinds, the kind of file behind a mapping, the
 * numbers a record gives a process. Shared by the main object (record.bpf.h) and the object for
 * kernels before 6.0 (lts/). */
#ifndef WXWATCH_MEMORY_BPF_H
#define WXWATCH_MEMORY_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "kernel.bpf.h"
#include "wxwatch.h"

#define VM_READ 0x1ULL
#define VM_WRITE 0x2ULL
#define VM_EXEC 0x4ULL
#define VM_SHARED 0x8ULL
#define VM_MAYWRITE 0x20ULL
#define VM_GROWSDOWN 0x100ULL
#define VM_SEQ_READ 0x8000ULL
#define VM_RAND_READ 0x10000ULL
#define VM_ACCESS (VM_READ | VM_WRITE | VM_EXEC)

#define MNT_NS_INTERNAL ((void *)-22L) /* ERR_PTR(-EINVAL): kern_mount()'s internal mounts */
#define TMPFS_MAGIC 0x01021994
#define RAMFS_MAGIC 0x858458f6
#define HUGETLBFS_MAGIC 0x958458f6

/* Tracee's mem_prot_alert order: 2, then 3, then 4, a later match overwriting an earlier one.
 * The request is the VMA's new flags (EXEC included when the personality implied it). */
static __always_inline __u32 judge(__u64 prev, __u64 next)
{
	__u32 alert = WX_ALERT_NONE;
	if (!(next & VM_EXEC))
		return alert;
	if (!(prev & VM_EXEC))
		alert = WX_ALERT_MPROT_X_ADD;
	if ((prev & VM_EXEC) && !(prev & VM_WRITE) && (next & VM_WRITE))
		alert = WX_ALERT_MPROT_W_ADD;
	if ((prev & VM_WRITE) && !(next & VM_WRITE))
		alert = WX_ALERT_MPROT_W_REM;
	return alert;
}

static __always_inline struct mount *real_mount(struct vfsmount *vfsmnt)
{
	return (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
}

/* A file on one of the kernel's internal mounts (memfds, shared anonymous memory, SysV
 * segments) whose name starts with prefix. */
static __always_inline int internal_file_named(struct file *file, const char prefix[8], int n)
{
	struct vfsmount *vfsmnt = BPF_CORE_READ(file, f_path.mnt);
	if (BPF_CORE_READ(real_mount(vfsmnt), mnt_ns) != MNT_NS_INTERNAL)
		return 0;
	char name[8] = {};
	bpf_probe_read_kernel(name, sizeof(name), BPF_CORE_READ(file, f_path.dentry, d_name.name));
	for (int i = 0; i < 8 && i < n; i++)
		if (name[i] != prefix[i])
			return 0;
	return 1;
}

static __always_inline int is_memfd(struct file *file)
{
	return internal_file_named(file, "memfd:", 6);
}

/* Code of a file that lives only in memory, with bytes written into it: a memfd, tmpfs/shm,
 * ramfs or hugetlbfs file with pages in its page cache (a memfd only sized with ftruncate has
 * none), or a file with no name left (deleted) and a size. Not shared anonymous memory (MAP_SHARED
 * | MAP_ANONYMOUS is a nameless shmem file, "dev/zero") nor a SysV segment ("SYSV..."): those
 * are anonymous memory, not files. */
static __always_inline int in_memory_file(struct file *file)
{
	if (!file)
		return 0;
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	if (BPF_CORE_READ(inode, i_size) <= 0)
		return 0;
	unsigned long magic = BPF_CORE_READ(inode, i_sb, s_magic);
	if (magic != TMPFS_MAGIC && magic != RAMFS_MAGIC && magic != HUGETLBFS_MAGIC)
		return BPF_CORE_READ(inode, i_nlink) == 0;
	if (!BPF_CORE_READ(file, f_mapping, nrpages))
		return 0;
	return !internal_file_named(file, "dev/zero", 8) && !internal_file_named(file, "SYSV", 4);
}

/* The flags of a change that made memory executable: whether it was written since it was
 * mapped (anon pages, or file pages copied on write: the VMA has an anon_vma), whether it
 * comes from an in-memory file. */
static __always_inline __u32 memory_flags(struct vm_area_struct *vma, struct file *file)
{
	__u32 f = 0;
	if (BPF_CORE_READ(vma, anon_vma))
		f |= WX_F_WRITTEN;
	if (in_memory_file(file))
		f |= WX_F_IN_MEMORY_FILE;
	return f;
}

static __always_inline __u64 inode_ctime_ns(struct inode *inode)
{
	if (bpf_core_field_exists(struct inode___ctime_split, i_ctime_sec)) {
		struct inode___ctime_split *i = (void *)inode;
		/* Bit 31 of the nanoseconds flags a multigrain timestamp as queried (6.13+). */
		__u32 nsec = BPF_CORE_READ(i, i_ctime_nsec) & 0x7fffffff;
		return BPF_CORE_READ(i, i_ctime_sec) * 1000000000ULL + nsec;
	}
	if (bpf_core_field_exists(struct inode___ctime_private, __i_ctime)) {
		struct inode___ctime_private *i = (void *)inode;
		return BPF_CORE_READ(i, __i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(i, __i_ctime.tv_nsec);
	}
	struct inode___ctime_plain *i = (void *)inode;
	return BPF_CORE_READ(i, i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(i, i_ctime.tv_nsec);
}

/* The pid number of p as seen from the namespace at level, or 0 if p is not visible there. */
static __always_inline __u32 pid_nr_at(struct pid *p, unsigned int level, struct pid_namespace *ns)
{
	if (!p || BPF_CORE_READ(p, level) < level)
		return 0;
	struct upid *u = (void *)p + bpf_core_field_offset(struct pid, numbers) +
			 level * bpf_core_type_size(struct upid);
	if (BPF_CORE_READ(u, ns) != ns)
		return 0;
	return BPF_CORE_READ(u, nr);
}

static __always_inline struct kernfs_node *kernfs_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___parent_new, __parent))
		return BPF_CORE_READ((struct kernfs_node___parent_new *)kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___parent_old *)kn, parent);
}

#endif /* WXWATCH_MEMORY_BPF_H */
