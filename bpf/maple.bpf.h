/* Looking up a VMA in a process's maple tree (Linux 6.1+) the way mtree_load() does, for code
 * that runs while the mmap lock is held for writing (the mmap_lock tracepoints of our own
 * calls): nothing can change the tree then, so plain reads see exactly what the kernel sees.
 * bpf_find_vma() cannot be used there: it only tries the lock, which we hold. */
#ifndef WXWATCH_MAPLE_BPF_H
#define WXWATCH_MAPLE_BPF_H

#include <bpf/bpf_core_read.h>
#include "kernel.bpf.h"

/* include/linux/maple_tree.h */
#define MAPLE_NODE_MASK 255ULL
#define MAPLE_NODE_TYPE_SHIFT 3
#define MAPLE_NODE_TYPE_MASK 0xf
#define MAPLE_LEAF_64 1
#define MAPLE_RANGE_64 2
#define MAPLE_ARANGE_64 3
#define MAPLE_NODE_SIZE 256
#define MAPLE_MAX_DEPTH 8 /* a tree of 16^8 VMAs; the kernel caps a process at 65530 */

/* One slot of the tree: the VMA (or 0 for a gap) covering an address, and the slot's range. */
struct maple_hit {
	__u64 entry;
	__u64 min;
	__u64 max;
};

/* Room for one node, read from the kernel (too big for the stack). */
struct maple_node_buf {
	__u64 w[MAPLE_NODE_SIZE / 8];
};

/* The root points at a node with xa_mk_node() (internal bits 0b10); nodes point at their
 * children as encoded nodes (mt_mk_node(): type in bits 3-6, no internal bits). */
static __always_inline int maple_is_node(__u64 entry)
{
	return (entry & 3) == 2 && entry > 4096; /* xa_is_node() */
}

static __always_inline __u32 node_byte(__u64 *node_buf, __u32 off)
{
	return ((unsigned char *)node_buf)[off & (MAPLE_NODE_SIZE - 1)];
}

/* Finds the slot holding index, as mtree_range_walk() does. Returns 0, or -1 if the tree does
 * not look like a VMA tree. A global function: the verifier checks it once, not at every one of
 * its callers. */
__noinline int maple_lookup(__u64 mm_ptr, __u64 index, struct maple_node_buf *buf, struct maple_hit *hit)
{
	if (!buf || !hit)
		return -1;
	struct mm_struct *mm = (void *)mm_ptr;
	__u64 *node_buf = buf->w;
	__u64 entry = (__u64)BPF_CORE_READ(mm, mm_mt.ma_root);
	__u64 min = 0, max = ~0ULL;

	for (int depth = 0; depth < MAPLE_MAX_DEPTH; depth++) {
		if (depth == 0 ? !maple_is_node(entry) : entry <= 4096)
			return -1;
		__u32 type = (entry >> MAPLE_NODE_TYPE_SHIFT) & MAPLE_NODE_TYPE_MASK;
		if (type != MAPLE_LEAF_64 && type != MAPLE_RANGE_64 && type != MAPLE_ARANGE_64)
			return -1; /* dense nodes: not used for VMAs */
		if (bpf_probe_read_kernel(node_buf, MAPLE_NODE_SIZE, (void *)(entry & ~MAPLE_NODE_MASK)))
			return -1;
		/* node_buf[0] is the parent, then the pivots: slot i ends at pivot i, and the slot at the
		 * data's end runs to the node's max (ma_data_end()). */
		__u64 *pivots = &node_buf[1];
		__u32 slot0, end;
		if (type == MAPLE_ARANGE_64) {
			slot0 = bpf_core_field_offset(struct maple_arange_64, slot) / 8;
			end = node_byte(node_buf, bpf_core_field_offset(struct maple_arange_64, meta));
		} else {
			slot0 = bpf_core_field_offset(struct maple_range_64, slot) / 8;
			if (!pivots[14])
				end = node_byte(node_buf, bpf_core_field_offset(struct maple_range_64, meta));
			else
				end = pivots[14] == max ? 14 : 15;
		}
		__u32 i = 0;
		__u64 slot_max = max;
		for (; i < 15; i++) {
			if (i >= end)
				break;
			if (pivots[i] >= index) {
				slot_max = pivots[i];
				break;
			}
			min = pivots[i] + 1;
		}
		__u32 at = slot0 + i;
		if (min > index || at >= MAPLE_NODE_SIZE / 8)
			return -1;
		entry = node_buf[at];
		max = slot_max;
		if (type == MAPLE_LEAF_64) {
			hit->entry = entry;
			hit->min = min;
			hit->max = max;
			return 0;
		}
	}
	return -1;
}

/* A VMA as read from the tree. */
struct vma_read {
	__u64 start;
	__u64 end;
	__u64 flags;
	struct file *file;
	struct vm_area_struct *vma;
};

static __always_inline void vma_fields(struct vm_area_struct *vma, struct vma_read *v)
{
	v->vma = vma;
	v->start = BPF_CORE_READ(vma, vm_start);
	v->end = BPF_CORE_READ(vma, vm_end);
	v->flags = BPF_CORE_READ(vma, vm_flags);
	v->file = BPF_CORE_READ(vma, vm_file);
}

/* The VMA containing addr; 0 if found, -1 for a gap or an unreadable tree. mm is a plain
 * number (a pointer read from memory, not a typed one): maple_lookup is a global function. */
static __always_inline int vma_at(struct maple_node_buf *node_buf, __u64 mm, __u64 addr, struct vma_read *v)
{
	struct maple_hit hit = {};
	if (maple_lookup(mm, addr, node_buf, &hit) || !hit.entry || maple_is_node(hit.entry))
		return -1;
	vma_fields((void *)hit.entry, v);
	return v->start <= addr && addr < v->end ? 0 : -1;
}

/* The first VMA that ends after addr (the one containing it, or the next one past a gap), as
 * find_vma() gives; 0 if found, -1 if there is none or the tree is unreadable. */
static __always_inline int vma_from(struct maple_node_buf *node_buf, __u64 mm, __u64 addr, struct vma_read *v)
{
	struct maple_hit hit = {};
	if (maple_lookup(mm, addr, node_buf, &hit))
		return -1;
	if (!hit.entry) {
		/* a gap is one slot: the next slot, if any, is a VMA */
		if (hit.max == ~0ULL || maple_lookup(mm, hit.max + 1, node_buf, &hit) || !hit.entry)
			return -1;
	}
	if (maple_is_node(hit.entry))
		return -1;
	vma_fields((void *)hit.entry, v);
	return v->end > addr ? 0 : -1;
}

#endif /* WXWATCH_MAPLE_BPF_H */
