/* The per-CPU counters user space sums into the books (enum wx_counter). Atomic adds whose
 * result is not used: plain XADD, which every kernel wxwatch loads on accepts. */
#ifndef WXWATCH_COUNTERS_BPF_H
#define WXWATCH_COUNTERS_BPF_H

#include <bpf/bpf_helpers.h>
#include "wxwatch.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WX_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} wx_counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&wx_counters, &which);
	if (c)
		__sync_fetch_and_add(c, 1);
}

static __always_inline void count_n(__u32 which, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&wx_counters, &which);
	if (c)
		__sync_fetch_and_add(c, n);
}

#endif /* WXWATCH_COUNTERS_BPF_H */
