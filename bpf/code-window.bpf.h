/* The code a record carries, decided the same way by both objects (record.bpf.h and
 * lts/record-lts.bpf.h; each copies the pages its own way): which bytes, and whether a work
 * slot's budget lets it copy them now. */
#ifndef WXWATCH_CODE_WINDOW_BPF_H
#define WXWATCH_CODE_WINDOW_BPF_H

#include "wxwatch.h"

#define WX_CODE_BUDGET_NS 100000000ULL /* the budget's window: 100 ms */

/* The window: the part of a change's range [addr, addr + len) inside its VMA, from the page it
 * starts in, or the bytes a write wrote where they can be read (src; 0: not known). Its start
 * in *from, its size (up to max, and WX_CODE_MAX: *truncated when cut) returned; 0: none. */
static __always_inline __u64 code_window(int write, __u64 src, __u64 addr, __u64 len, __u64 vma_start, __u64 vma_end,
					 __u64 max, __u64 *from, int *truncated)
{
	__u64 start, end;
	if (write) {
		if (!src)
			return 0;
		start = src;
		end = src + len;
	} else {
		end = addr + len;
		start = addr > vma_start ? addr : vma_start;
		if (vma_end < end)
			end = vma_end;
		start &= ~(__u64)(WX_CODE_PAGE - 1);
	}
	*from = start;
	*truncated = 0;
	if (end <= start)
		return 0;
	__u64 window = end - start;
	if (max > WX_CODE_MAX)
		max = WX_CODE_MAX;
	if (window > max) {
		window = max;
		*truncated = 1;
	}
	return window;
}

/* Whether a slot that spent *spent since *window_start may copy window more bytes now
 * (WX_CODE_BUDGET per 100 ms); if so they are spent. */
static __always_inline int code_budget_take(__u64 *window_start, __u64 *spent, __u64 window)
{
	__u64 now = bpf_ktime_get_ns();
	if (now - *window_start > WX_CODE_BUDGET_NS) {
		*window_start = now;
		*spent = 0;
	}
	if (*spent + window > WX_CODE_BUDGET)
		return 0;
	*spent += window;
	return 1;
}

#endif /* WXWATCH_CODE_WINDOW_BPF_H */
