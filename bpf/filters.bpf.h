/* Allowlists and scopes, in maps user space fills (see enum wx_filter_kind): checked before any
 * VMA is judged, so a filtered process costs a few map lookups per call and nothing downstream. */
#ifndef WXWATCH_FILTERS_BPF_H
#define WXWATCH_FILTERS_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "kernel.bpf.h"
#include "wxwatch.h"

#define FILTER_MAP(name, key_type)                                   \
	struct {                                                     \
		__uint(type, BPF_MAP_TYPE_HASH);                     \
		__uint(max_entries, WX_FILTER_MAX_ENTRIES);          \
		__type(key, key_type);                               \
		__type(value, __u8);                                 \
	} name SEC(".maps")

/* Two generations of every list: user space fills the one not in use, then flips
 * wx_filter_gen, so that a change is all or nothing for the programs (never half a list, never
 * a scope switched before its entries are in). */
FILTER_MAP(wx_filter_pid_0, __u32);
FILTER_MAP(wx_filter_pid_1, __u32);
FILTER_MAP(wx_filter_uid_0, __u32);
FILTER_MAP(wx_filter_uid_1, __u32);
FILTER_MAP(wx_filter_comm_0, char[WX_COMM_LEN]);
FILTER_MAP(wx_filter_comm_1, char[WX_COMM_LEN]);
FILTER_MAP(wx_filter_cgroup_0, __u64);
FILTER_MAP(wx_filter_cgroup_1, __u64);
FILTER_MAP(wx_filter_exe_0, struct wx_exe_key);
FILTER_MAP(wx_filter_exe_1, struct wx_exe_key);

/* The config of each generation. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct wx_filter_config);
} wx_filter_config SEC(".maps");

/* The generation in use: one aligned 4-byte write flips it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} wx_filter_gen SEC(".maps");

#define FILTER_LOOKUP(gen, map, key) \
	((gen) ? bpf_map_lookup_elem(&map##_1, (key)) : bpf_map_lookup_elem(&map##_0, (key)))

/* Applies one kind's list: 1 if the process is filtered by it. scope_mask: the kinds whose
 * scope applies (0: allowlists only). */
static __always_inline int filtered_by(__u32 scope_mask, __u32 kind, __u8 *action)
{
	if (action && *action == WX_ACT_IGNORE)
		return 1;
	return (scope_mask & (1u << kind)) && !(action && *action == WX_ACT_WATCH);
}

/* The cgroup list matches the task's cgroup or any ancestor: a container's scope covers what
 * nests inside it. Returns the action of the nearest listed ancestor, if any. */
static __always_inline __u8 *cgroup_action(__u32 gen)
{
	for (int level = WX_CGROUP_MAX_DEPTH - 1; level >= 0; level--) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);
		if (!id)
			continue;
		__u8 *action = FILTER_LOOKUP(gen, wx_filter_cgroup, &id);
		if (action)
			return action;
	}
	return 0;
}

/* 1 if the current process is filtered out: by an allowlist, or (with_scope) by a scope. */
static __always_inline int filtered(struct task_struct *task, int with_scope)
{
	__u32 zero = 0;
	__u32 *g = bpf_map_lookup_elem(&wx_filter_gen, &zero);
	__u32 gen = g && *g ? 1 : 0;
	struct wx_filter_config *cfg = bpf_map_lookup_elem(&wx_filter_config, &gen);
	if (!cfg || !cfg->active_mask)
		return 0;
	__u32 active = cfg->active_mask;
	__u32 scope = with_scope ? cfg->scope_mask : 0;
	__u32 tgid = task->tgid;
	if ((active & (1u << WX_FILTER_PID)) &&
	    filtered_by(scope, WX_FILTER_PID, FILTER_LOOKUP(gen, wx_filter_pid, &tgid)))
		return 1;
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	if ((active & (1u << WX_FILTER_UID)) &&
	    filtered_by(scope, WX_FILTER_UID, FILTER_LOOKUP(gen, wx_filter_uid, &uid)))
		return 1;
	if (active & (1u << WX_FILTER_COMM)) {
		char comm[WX_COMM_LEN] = {};
		bpf_get_current_comm(comm, sizeof(comm));
		if (filtered_by(scope, WX_FILTER_COMM, FILTER_LOOKUP(gen, wx_filter_comm, comm)))
			return 1;
	}
	if ((active & (1u << WX_FILTER_CGROUP)) && filtered_by(scope, WX_FILTER_CGROUP, cgroup_action(gen)))
		return 1;
	if (active & (1u << WX_FILTER_EXE)) {
		struct inode *inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
		struct wx_exe_key key = {
			.dev = BPF_CORE_READ(inode, i_sb, s_dev),
			.inode = BPF_CORE_READ(inode, i_ino),
		};
		if (filtered_by(scope, WX_FILTER_EXE, FILTER_LOOKUP(gen, wx_filter_exe, &key)))
			return 1;
	}
	return 0;
}

#endif /* WXWATCH_FILTERS_BPF_H */
