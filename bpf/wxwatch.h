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
/* Records one call writes one by one per kind of change; past that, one summary record per kind
 * counts the rest (with the first and last address), so that one call over 9,000 VMAs cannot
 * fill the ring. Equal to the snapshot, so a call Tracee would report VMA by VMA still is. */
#define WX_CALL_RECORDS 256
/* VMAs one range is walked over at most (the kernel's default vm.max_map_count is 65530);
 * past it, the range is counted as not walked to its end. */
#define WX_WALK_MAX (1 << 20)
/* Mappings of one file the alias check walks at most; past it, the check is flagged unsure. */
#define WX_ALIAS_WALK 4096
/* Work slots per CPU: a program preempted while it holds one leaves the other to the next. */
#define WX_SLOTS_PER_CPU 2
/* Fair share: while the ring is more than half full, a process may write at most 1/this of it
 * per 100 ms; past that its records are counted into summaries, so one process cannot push
 * another's findings out. */
#define WX_FAIR_SHARE 8

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
	WX_SYS_OTHER = 6,     /* a kernel path reached from another call */
	WX_SYS_IPC = 7,       /* i386 ipc(SHMAT, ...) */
	WX_SYS_EXECVE = 8,    /* the mappings of a new program and its interpreter */
	WX_SYS_EXECVEAT = 9,
	WX_SYS_WRITE = 10,
	WX_SYS_PWRITE64 = 11,
	WX_SYS_WRITEV = 12,
	WX_SYS_PWRITEV = 13,
	WX_SYS_PWRITEV2 = 14,
	WX_SYS_PTRACE = 15,
	WX_SYS_PROCESS_VM_WRITEV = 16,
	WX_SYS_IO_URING_ENTER = 17,
	WX_SYS_IOCTL = 18,
};

/* What a record is about. */
enum wx_event {
	WX_EVENT_PROTECT = 0, /* memory made executable (or writable and executable) */
	WX_EVENT_WRITE = 1,   /* bytes written into memory that was executable in the target */
};

/* How bytes reached executable memory (WX_EVENT_WRITE). */
enum wx_route {
	WX_ROUTE_NONE = 0,
	WX_ROUTE_PROC_MEM = 1,    /* a write to /proc/PID/mem (FOLL_FORCE) */
	WX_ROUTE_PTRACE = 2,      /* PTRACE_POKETEXT / POKEDATA */
	WX_ROUTE_PROCESS_VM = 3,  /* process_vm_writev */
	WX_ROUTE_USERFAULTFD = 4, /* UFFDIO_COPY / UFFDIO_CONTINUE */
	WX_ROUTE_FILE_WRITE = 5,  /* a write to a file that is mapped executable */
	WX_ROUTE_REMOTE = 6,      /* a forced write into another mm by a path not told apart */
};

/* The enforcement rule that refused a change (WX_F_BLOCKED). */
enum wx_rule {
	WX_RULE_NONE = 0,
	WX_RULE_WRITTEN_EXEC = 1,   /* executable gained on memory written since it was mapped */
	WX_RULE_WRITE_EXEC = 2,     /* writable and executable at once */
	WX_RULE_ALIAS = 3,          /* an executable view of writable shared memory, either order */
	WX_RULE_IN_MEMORY_FILE = 4, /* code from a memfd, tmpfs or deleted file */
	WX_RULE_EXEC_WRITE = 5,     /* a write into executable memory (/proc/PID/mem) */
	WX_RULE_USERFAULTFD = 6,    /* userfaultfd, which fills memory past its protection */
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
	WX_F_WRITTEN = 1 << 13,         /* the memory was written since it was mapped (an anon_vma) */
	WX_F_IN_MEMORY_FILE = 1 << 14,  /* backed by a memfd, tmpfs/ramfs/hugetlbfs or deleted file */
	WX_F_SUMMARY = 1 << 15,         /* stands for summary_count changes not written one by one */
	WX_F_ALIAS_UNSURE = 1 << 16,    /* not every mapping of the file could be checked */
	WX_F_ALIAS_EXEC_FIRST = 1 << 17,/* the executable view came first; this is the writable one */
	WX_F_CROSS_PROCESS = 1 << 18,   /* the writer is another process than the target */
	WX_F_TRACER = 1 << 19,          /* the writer is the target's ptrace tracer */
	WX_F_RANGE_UNSURE = 1 << 20,    /* the written range was read from the writer's memory */
	WX_F_OUTCOME_LATE = 1 << 21,    /* judged on the VMA's later state: the exit was skipped */
	WX_F_OUTCOME_UNKNOWN = 1 << 22, /* reported before the change: no state to await its outcome */
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

/* The argument of the flush_summaries program (user space runs it). */
struct wx_flush_args {
	__u32 force; /* every pending summary now, whether or not the ring has room */
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
	WX_CNT_NO_STATE = 5,    /* calls whose state could not be stored: reported at entry flagged outcomeUnknown (lsm-hook) or counted lost busy (tracepoint) */
	WX_CNT_DEGRADED = 6,    /* records not judged exactly (WX_F_PREV_UNKNOWN) */
	WX_CNT_CODE_SKIPPED = 7, /* records that went without code: capture budget spent */
	WX_CNT_LOST_BUSY = 8,   /* not written: every work slot of the CPU was held (preemption) */
	WX_CNT_THROTTLED = 9,   /* candidates counted into a summary record instead of their own */
	WX_CNT_UNWALKED = 10,   /* ranges with more VMAs than the walk limit: the rest not judged */
	WX_CNT_MAX = 11,
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
	__u64 target_start_boot_ns; /* write records: the written process's start */
	__u64 alias_start;        /* alias records: the other view of the file (the first found) */
	__u64 alias_end;
	__u32 target_pid;         /* write records: host pid of the process whose memory was written */
	__u32 alias_pid;          /* alias records: host pid of the other view's process, 0 unknown */
	__u32 summary_count;      /* WX_F_SUMMARY: how many changes this record stands for */
	__u8 event;               /* enum wx_event */
	__u8 route;               /* enum wx_route */
	__u8 rule;                /* enum wx_rule */
	__u8 _pad1;
	__u16 target_exe_len;     /* write records: the written process's executable */
	__u16 _pad2;
	char target_comm[WX_COMM_LEN];
	__u32 _pad3;
	/* char strings[uts_len + path_len + exe_len + cgroup_len + target_exe_len];
	 * char code[code_len]; */
};

#define WX_RECORD_FIXED_SIZE 288
#define WX_RECORD_MAX_SIZE \
	(WX_RECORD_FIXED_SIZE + WX_UTS_LEN + 3 * WX_PATH_MAX + 2 * WX_CGROUP_NAME_MAX + WX_CODE_MAX)
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
WX_ASSERT(__builtin_offsetof(struct wx_record, target_pid) == 248, "wx_record.target_pid");
WX_ASSERT(__builtin_offsetof(struct wx_record, event) == 260, "wx_record.event");
WX_ASSERT(__builtin_offsetof(struct wx_record, target_comm) == 268, "wx_record.target_comm");
WX_ASSERT(WX_CODE_MAX / WX_CODE_PAGE <= 32, "code_missing has a bit per page");
WX_ASSERT((WX_RECORD_FIXED_SIZE % WX_RECORD_ALIGN) == 0, "records stay aligned");

#endif /* WXWATCH_H */
