/* The few kernel types wxwatch reads, declared by hand instead of a vmlinux.h generated on the
 * build machine. preserve_access_index makes every field access a CO-RE relocation: libbpf
 * resolves the real offsets against the running kernel's BTF at load time, so only the fields
 * named here must exist, wherever the kernel puts them. */
#ifndef WXWATCH_KERNEL_BPF_H
#define WXWATCH_KERNEL_BPF_H

#include <linux/types.h>

typedef struct {
	int counter;
} atomic_t;

struct bpf_map;

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct qstr {
	union {
		struct {
			__u32 hash;
			__u32 len;
		};
		__u64 hash_len;
	};
	const unsigned char *name;
};

struct super_block {
	__u32 s_dev;
	unsigned long s_magic;
};

struct inode {
	unsigned long i_ino;
	struct super_block *i_sb;
	unsigned int i_nlink;
	__s64 i_size;
};

/* ctime moved twice; each flavour is matched by name against the running kernel. */
struct timespec64 {
	__s64 tv_sec;
	long tv_nsec;
};
struct inode___ctime_split { /* 6.11+ */
	__s64 i_ctime_sec;
	__u32 i_ctime_nsec;
};
struct inode___ctime_private { /* 6.6 - 6.10 */
	struct timespec64 __i_ctime;
};
struct inode___ctime_plain { /* before 6.6 */
	struct timespec64 i_ctime;
};

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
	struct inode *d_inode;
};

struct vfsmount {
	struct dentry *mnt_root;
};

struct mnt_namespace;

struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
	struct mnt_namespace *mnt_ns;
};

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
};

struct rb_node {
	unsigned long __rb_parent_color;
	struct rb_node *rb_right;
	struct rb_node *rb_left;
};

struct rb_root {
	struct rb_node *rb_node;
};

struct rb_root_cached {
	struct rb_root rb_root;
	struct rb_node *rb_leftmost;
};

struct address_space {
	unsigned long nrpages;        /* pages in the page cache: of a memfd, the bytes written */
	struct rb_root_cached i_mmap; /* every VMA mapping the file, by file offset */
	atomic_t i_mmap_writable; /* shared mappings that may write; < 0 once write-sealed */
};

struct file {
	struct path f_path;
	struct inode *f_inode;
	struct address_space *f_mapping;
	void *private_data;
	__s64 f_pos;
	unsigned int f_mode;
};

struct anon_vma;
struct mm_struct;

struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end;
	struct mm_struct *vm_mm;
	unsigned long vm_flags;
	struct {
		struct rb_node rb;
		unsigned long rb_subtree_last;
	} shared;
	struct anon_vma *anon_vma; /* set once a page is written (anon, or COW of a file page) */
	unsigned long vm_pgoff;
	struct file *vm_file;
};

/* The VMA tree (6.1+): read only while the mmap lock is held, as the kernel does. */
struct maple_tree {
	void *ma_root;
};

struct ma_state {
	struct maple_tree *tree;
	unsigned long index;
	unsigned long last;
};

struct maple_metadata {
	unsigned char end;
};

struct maple_range_64 {
	void *parent;
	unsigned long pivot[15];
	union {
		void *slot[16];
		struct {
			void *pad[15];
			struct maple_metadata meta;
		};
	};
};

struct maple_arange_64 {
	void *parent;
	unsigned long pivot[9];
	void *slot[10];
	unsigned long gap[10];
	struct maple_metadata meta;
};

struct task_struct;

struct mm_struct {
	struct maple_tree mm_mt;
	unsigned long start_brk;
	unsigned long brk;
	unsigned long start_stack;
	struct file *exe_file;
	struct task_struct *owner; /* CONFIG_MEMCG: the process the mm belongs to */
};

struct ns_common {
	unsigned int inum;
};

struct mnt_namespace {
	struct ns_common ns;
};

struct pid_namespace {
	unsigned int level;
	struct ns_common ns;
};

struct new_utsname {
	char nodename[65];
};

struct uts_namespace {
	struct new_utsname name;
};

struct nsproxy {
	struct uts_namespace *uts_ns;
	struct mnt_namespace *mnt_ns;
};

struct upid {
	int nr;
	struct pid_namespace *ns;
};

struct pid {
	unsigned int level;
	struct upid numbers[1];
};

struct kern_ipc_perm {
	int id;
};

/* A SysV shared memory segment: its file is what every attach maps. */
struct shmid_kernel {
	struct kern_ipc_perm shm_perm;
	struct file *shm_file;
};

struct kernfs_node {
	const char *name;
	__u64 id;
};
/* The parent link was renamed in 6.15. */
struct kernfs_node___parent_new {
	struct kernfs_node *__parent;
};
struct kernfs_node___parent_old {
	struct kernfs_node *parent;
};

struct cgroup {
	struct kernfs_node *kn;
	int level;
};
/* The path to the root: pointers since 6.0, ids before. */
struct cgroup___ancestors {
	int level;
	struct cgroup *ancestors[];
};
struct cgroup___ancestor_ids {
	int level;
	__u64 ancestor_ids[];
};

struct css_set {
	struct cgroup *dfl_cgrp;
};

struct thread_info {
	__u32 status; /* x86: TS_COMPAT while in a 32-bit system call */
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct task_io_accounting {
	__u64 syscw; /* CONFIG_TASK_XACCT: write system calls made so far */
};

typedef struct {
	__u32 val;
} kuid_t;

struct cred {
	kuid_t uid;
};

struct task_struct {
	struct thread_info thread_info;
	unsigned int flags;
	unsigned int ptrace;
	unsigned int personality;
	int pid;
	int tgid;
	struct task_struct *real_parent;
	struct task_struct *parent; /* the tracer while ptraced */
	struct task_struct *group_leader;
	struct pid *thread_pid;
	__u64 start_boottime;
	char comm[16];
	struct nsproxy *nsproxy;
	struct files_struct *files;
	struct mm_struct *mm;
	struct css_set *cgroups;
	const struct cred *cred;
	__u64 self_exec_id;
	struct task_io_accounting ioac;
};

/* x86-64 user registers as the kernel saves them on entry (kernel names). */
struct pt_regs {
	unsigned long bp, bx, r10, r9, r8, ax, cx, dx, si, di, orig_ax;
};

#pragma clang attribute pop

#endif /* WXWATCH_KERNEL_BPF_H */
