/* The wire format between the BPF program and user space: the one definition of a record.
 * Included by bpf/wxwatch.bpf.c and native/; lib/record-layout.ts checks its offsets against
 * the ones the addon exports from this header, so no layer can drift from it. */
#ifndef WXWATCH_H
#define WXWATCH_H

#include <linux/types.h>

#define WX_COMM_LEN 16
#define WX_UTS_LEN 64     /* __NEW_UTS_LEN */
#define WX_PATH_MAX 4096  /* a power of two: BPF code masks offsets with it */
#define WX_CGROUP_NAME_MAX 128 /* per cgroup level; the record keeps "parent/leaf" */
/* VMAs whose protection before an mprotect is remembered exactly; a range with more is still
 * judged, the rest from the state after the call, flagged WX_F_PREV_UNKNOWN and counted. */
#define WX_SNAPSHOT_VMAS 256
/* The most bytes of newly executable code a record carries (configurable down, 0: off). */
#define WX_CODE_MAX 65536
#define WX_CODE_PAGE 4096
/* Code bytes a CPU copies per 100 ms at most: a storm of W→X keeps its records, not its code. */
#define WX_CODE_BUDGET (2 << 20)

/* Tracee's mem_prot_alert kinds, same numbers. TRC-104 is WX_ALERT_MPROT_W_REM. */
enum wx_alert {
	WX_ALERT_NONE = 0,
	WX_ALERT_MMAP_W_X = 1,     /* "Mmaped region with W+E permissions!" */
	WX_ALERT_MPROT_X_ADD = 2,  /* "Protection changed to Executable!" */
	WX_ALERT_MPROT_W_ADD = 3,  /* "Protection changed from E to W+E!" */
	WX_ALERT_MPROT_W_REM = 4,  /* "Protection changed from W to E!" */
};

/* The system call that made the change, whatever its ABI (WX_F_COMPAT tells 32-bit ones). */
enum wx_syscall {
	WX_SYS_MPROTECT = 0,
	WX_SYS_PKEY_MPROTECT = 1,
	WX_SYS_MMAP = 2,
	WX_SYS_MMAP2 = 3,     /* i386 */
	WX_SYS_OLD_MMAP = 4,  /* i386 mmap with its arguments in memory */
	WX_SYS_SHMAT = 5,
	WX_SYS_OTHER = 6,     /* a kernel path reached from another call (lsm-hook mode only) */
};

enum wx_region {
	WX_REGION_ANON = 0,
	WX_REGION_HEAP = 1,
	WX_REGION_STACK = 2,
	WX_REGION_FILE = 3,
	WX_REGION_MEMFD = 4,
};

/* wx_record.flags */
enum wx_flag {
	WX_F_HAS_FILE = 1 << 0,         /* dev/inode/ctime/path describe the backing file */
	WX_F_FILE_DELETED = 1 << 1,     /* the backing file has no links left */
	WX_F_DENIED = 1 << 2,           /* asked for, not applied; emitted only on request */
	WX_F_COMPAT = 1 << 3,           /* a 32-bit system call (i386 or x32 ABI) */
	WX_F_PREV_UNKNOWN = 1 << 4,     /* the protection before could not be read exactly */
	WX_F_WRITABLE_ALIAS = 1 << 5,   /* the file is also mapped shared and writable */
	WX_F_READ_IMPLIES_EXEC = 1 << 6,/* EXEC came from the READ_IMPLIES_EXEC personality */
	WX_F_BLOCKED = 1 << 7,          /* refused by wxwatch's enforcement */
	WX_F_EXE_DELETED = 1 << 8,      /* the process's executable has no links left */
	WX_F_PATH_TRUNCATED = 1 << 9,   /* the backing file's path lost leading components */
	WX_F_EXE_TRUNCATED = 1 << 10,   /* the executable's path lost leading components */
	WX_F_CODE_TRUNCATED = 1 << 11,  /* the region is larger than the code captured from it */
	WX_F_CODE_SKIPPED = 1 << 12,    /* no code: this CPU's capture budget was spent (storms) */
};

/* Allowlists and scopes: one hash map per kind (keys below), value = WX_ACT_*. A process whose
 * key is marked IGNORE is filtered; when a kind's bit is set in the scope mask, a process is
 * filtered unless its key is marked WATCH. Applied before any VMA is judged. */
enum wx_filter_kind {
	WX_FILTER_PID = 0,     /* __u32 tgid */
	WX_FILTER_UID = 1,     /* __u32 uid */
	WX_FILTER_COMM = 2,    /* char[WX_COMM_LEN], NUL-padded */
	WX_FILTER_CGROUP = 3,  /* __u64 cgroup v2 id: the task's cgroup or any ancestor */
	WX_FILTER_EXE = 4,     /* struct wx_exe_key of the executable */
	WX_FILTER_KINDS = 5,
};

#define WX_ACT_IGNORE 1
#define WX_ACT_WATCH 2
#define WX_FILTER_MAX_ENTRIES 4096
#define WX_CGROUP_MAX_DEPTH 16

struct wx_exe_key {
	__u32 dev;   /* kernel encoding: major << 20 | minor */
	__u32 _pad;
	__u64 inode;
};

/* wx_filter_config[0]: which kinds have entries (bit per kind) and which are scopes. */
struct wx_filter_config {
	__u32 active_mask;
	__u32 scope_mask;
};

/* Per-CPU counters (map wx_counters), indexed by this enum. */
enum wx_counter {
	WX_CNT_SEEN = 0,        /* candidates: each ends as emitted, filtered, suppressed or lost */
	WX_CNT_LOST = 1,        /* ring buffer full: record could not be written */
	WX_CNT_FILTERED = 2,    /* EXEC-requesting calls of filtered processes (not judged) */
	WX_CNT_SUPPRESSED = 3,  /* alerts dropped by dedup */
	WX_CNT_VMA_TRUNCATED = 4, /* ranges with more VMAs than a snapshot holds (rest: degraded) */
	WX_CNT_NO_STATE = 5,    /* calls whose state could not be stored: judged as degraded */
	WX_CNT_DEGRADED = 6,    /* records not judged exactly (WX_F_PREV_UNKNOWN) */
	WX_CNT_CODE_SKIPPED = 7, /* records that went without code: capture budget spent */
	WX_CNT_MAX = 8,
};

/* One mem_prot_alert. Fixed part, then the strings uts, path, exe, cgroup back to back (lengths
 * below, no NULs). Records are 8-byte aligned in the ring and in batches. */
struct wx_record {
	__u32 size;               /* fixed part + strings */
	__u32 alert;              /* enum wx_alert; 0 for a writable alias alone */
	__u64 ts_boot_ns;         /* bpf_ktime_get_boot_ns() when the change was seen */
	__u64 thread_start_boot_ns;
	__u64 addr;               /* mprotect: the syscall's addr; mmap: the mapped address */
	__u64 len;                /* the syscall's len */
	__u64 vma_start;          /* the judged VMA, as it was before the call */
	__u64 vma_end;
	__u64 prev_vm_flags;      /* raw vm_flags before the call (0 for a new mapping) */
	__u64 new_vm_flags;       /* raw vm_flags after it */
	__u64 inode;
	__u64 ctime_ns;
	__u64 cgroup_id;
	__u64 leader_start_boot_ns;  /* the process's (thread group leader's) start */
	__u64 parent_start_boot_ns;
	__s64 ret;                /* the error that refused a denied change; 0 otherwise */
	__s32 prot;               /* requested PROT_* bits */
	__u32 dev;
	__u32 host_pid;
	__u32 host_tid;
	__u32 host_ppid;
	__u32 ns_pid;
	__u32 ns_tid;
	__u32 ns_ppid;
	__u32 uid;
	__u32 mnt_ns;
	__u32 pid_ns;
	__u32 cpu;
	__u32 flags;              /* enum wx_flag */
	__s32 writable_maps;      /* shared writable mappings of the file, this one excluded */
	__u16 syscall;            /* enum wx_syscall */
	__u8 region;              /* enum wx_region */
	__u8 _pad0;
	__u16 uts_len;
	__u16 path_len;
	__u16 exe_len;
	__u16 cgroup_len;         /* "parent/leaf" names of the task's cgroup (v2) */
	char comm[WX_COMM_LEN];
	__u32 code_len;           /* bytes of code after the strings: the readable pages, in order */
	__u64 code_addr;          /* where the captured window starts (page aligned) */
	__u32 code_window;        /* bytes the window covers, readable or not */
	__u32 code_missing;       /* bit i: page i of the window could not be read (not in code) */
	/* char strings[uts_len + path_len + exe_len + cgroup_len]; char code[code_len]; */
};

#define WX_RECORD_FIXED_SIZE 224
#define WX_RECORD_MAX_SIZE \
	(WX_RECORD_FIXED_SIZE + WX_UTS_LEN + 2 * WX_PATH_MAX + 2 * WX_CGROUP_NAME_MAX + WX_CODE_MAX)
#define WX_RECORD_ALIGN 8

/* Both compilers check the layout the other side relies on. */
#ifdef __cplusplus
#define WX_ASSERT static_assert
#else
#define WX_ASSERT _Static_assert
#endif
WX_ASSERT(sizeof(struct wx_record) == WX_RECORD_FIXED_SIZE, "wx_record size");
WX_ASSERT(__builtin_offsetof(struct wx_record, ts_boot_ns) == 8, "wx_record.ts_boot_ns");
WX_ASSERT(__builtin_offsetof(struct wx_record, ret) == 112, "wx_record.ret");
WX_ASSERT(__builtin_offsetof(struct wx_record, prot) == 120, "wx_record.prot");
WX_ASSERT(__builtin_offsetof(struct wx_record, flags) == 168, "wx_record.flags");
WX_ASSERT(__builtin_offsetof(struct wx_record, syscall) == 176, "wx_record.syscall");
WX_ASSERT(__builtin_offsetof(struct wx_record, comm) == 188, "wx_record.comm");
WX_ASSERT(__builtin_offsetof(struct wx_record, code_addr) == 208, "wx_record.code_addr");
WX_ASSERT(WX_CODE_MAX / WX_CODE_PAGE <= 32, "code_missing has a bit per page");
WX_ASSERT((WX_RECORD_FIXED_SIZE % WX_RECORD_ALIGN) == 0, "records stay aligned");

#endif /* WXWATCH_H */
