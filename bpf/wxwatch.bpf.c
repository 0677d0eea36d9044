// SPDX-License-Identifier: GPL-2.0
/* wxwatch kernel side: sees every way code comes to run in a process's memory without a file
 * on disk — memory made executable (judged the way Tracee's mem_prot_alert does, but on what
 * the kernel applied), executable aliases of writable memory, and writes into memory that is
 * already executable — and writes one record per change into a ring buffer.
 *
 * One hook family per file, the record builder shared:
 *  - sections.bpf.h    tracepoint mode: the mmap_lock tracepoints, under the lock
 *  - trampolines.bpf.h lsm-hook mode: BPF trampolines on the kernel's own functions
 *  - enforce.bpf.h     prevention: BPF LSM refusals, in the scope
 *  - writes.bpf.h, alias.bpf.h  what a write into executable memory and an alias are
 *  - record.bpf.h      a record: context, evidence, dedup, fair shares, loss counting */
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "kernel.bpf.h"
#include "wxwatch.h"
#include "record.bpf.h"
#include "filters.bpf.h"
#include "sections.bpf.h"
#include "trampolines.bpf.h"
#include "enforce.bpf.h"

char LICENSE[] SEC("license") = "GPL";
