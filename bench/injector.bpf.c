// SPDX-License-Identifier: GPL-2.0
/* Synthetic load for the drain benchmarks: a syscall program that, run with
 * bpf_prog_test_run_opts, writes real TRC-104 records (alert 4, fixed part only) into a ring
 * buffer as fast as one core can. The ring map below is a placeholder: user space points it at
 * an existing ring (the sensor's, or its own baseline ring) with bpf_map__reuse_fd() before
 * load, so the records travel the exact path the sensor's own records do. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wxwatch.h"

char LICENSE[] SEC("license") = "GPL";

#define FAKE_PID 999999 /* no real process: findings from the injector are easy to tell apart */
#define PROT_READ 0x1
#define PROT_EXEC 0x4
#define VM_READ 0x1ULL
#define VM_WRITE 0x2ULL

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16); /* replaced by the reused map's own size */
} ring SEC(".maps");

/* Totals over every run; read by user space through the skeleton's mmaped .bss. Only one
 * thread runs the program at a time, so plain increments are enough. */
__u64 injected = 0;
__u64 failed = 0;
__u64 corrupted = 0;

/* Records per run: user space sets it before load (rodata). */
const volatile __u32 per_run = 4096;
/* Nonzero: every Nth record claims a path longer than the record (the drainer's validation
 * must count and skip it). */
const volatile __u32 corrupt_every = 0;
/* Close to the sensor's wakeup policy (bpf/wxwatch.bpf.c): no wakeup unless a quarter of the
 * ring is queued, and then one forced wakeup per run. Measured: waking the reader on every
 * record (flags 0) made the injector, not the consumer, the bottleneck (~2-3 M records/s), and
 * forcing every record of a run once the ring was a quarter full cost an irq_work each (~0.5 M/s).
 * Set by user space from the reused ring's size. */
const volatile __u64 wakeup_bytes = 1 << 21;

static long write_one(__u32 i, void *data)
{
	__u64 *wake = data;
	struct wx_record *r = bpf_ringbuf_reserve(&ring, sizeof(*r), 0);
	if (!r) {
		/* Ring full: stop this run; user space decides whether to back off. */
		failed++;
		return 1;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->alert = WX_ALERT_MPROT_W_REM;
	r->ts_boot_ns = bpf_ktime_get_boot_ns();
	r->addr = 0x7f0000000000ULL + ((__u64)i << 12);
	r->len = 4096;
	r->vma_start = r->addr;
	r->vma_end = r->addr + 4096;
	r->prev_vm_flags = VM_READ | VM_WRITE;
	r->prot = PROT_READ | PROT_EXEC;
	r->host_pid = FAKE_PID;
	r->host_tid = FAKE_PID;
	r->ns_pid = FAKE_PID;
	r->ns_tid = FAKE_PID;
	r->cpu = bpf_get_smp_processor_id();
	r->syscall = WX_SYS_MPROTECT;
	r->region = WX_REGION_ANON;
	__builtin_memcpy(r->comm, "bench", 6);
	if (corrupt_every && i % corrupt_every == 0) {
		r->path_len = 4000;
		corrupted++;
	}
	bpf_ringbuf_submit(r, *wake);
	*wake = BPF_RB_NO_WAKEUP; /* one forced wakeup per run is enough to get the reader going */
	injected++;
	return 0;
}

SEC("syscall")
int inject(void *ctx)
{
	/* Judged once per run, not per record: a run is a small fraction of the ring. */
	__u64 wake = bpf_ringbuf_query(&ring, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									 : BPF_RB_NO_WAKEUP;
	return bpf_loop(per_run, write_one, &wake, 0);
}
