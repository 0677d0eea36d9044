/* Allowlists and scopes, in maps user space fills (see enum wx_filter_kind): checked before any
 * VMA is judged, so a filtered process costs a few map lookups per call and nothing downstream. */
#ifndef WXWATCH_FILTERS_BPF_H
#define WXWATCH_FILTERS_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "counters.bpf.h"
#include "kernel.bpf.h"
#include "wxwatch.h"

/* Set between open and load. */
const volatile __u32 self_tgid = 0;     /* the embedding process: its own JIT never feeds back */
const volatile __u8 enforce = 0;        /* refuse, in the scope (enforce.bpf.h) */

/* The sensor's self-check child (set by user space while it runs): watched whatever the filters
 * say, so that the check proves the path end to end under any scope. */
volatile __u32 probe_tgid = 0;

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

/* The id of the cgroup v2 ancestor of task at level (0: the root), 0 if none. The current
 * task has a helper for it; another task's path is read from its cgroup. */
#ifndef WX_ANCESTOR_HELPER
#define WX_ANCESTOR_HELPER 1 /* 0 in an object for kernels whose tracing programs lack it (lts/) */
#endif

static __always_inline __u64 ancestor_cgroup_id(struct task_struct *task, int current, int level)
{
	if (current && WX_ANCESTOR_HELPER)
		return bpf_get_current_ancestor_cgroup_id(level);
	struct cgroup *cgrp = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	if (!cgrp || BPF_CORE_READ(cgrp, level) < level)
		return 0;
	if (bpf_core_field_exists(struct cgroup___ancestors, ancestors)) {
		struct cgroup *up = 0;
		bpf_probe_read_kernel(&up, sizeof(up), (void *)cgrp + bpf_core_field_offset(struct cgroup___ancestors, ancestors) +
								  level * sizeof(void *));
		return up ? BPF_CORE_READ(up, kn, id) : 0;
	}
	__u64 id = 0;
	bpf_probe_read_kernel(&id, sizeof(id), (void *)cgrp + bpf_core_field_offset(struct cgroup___ancestor_ids, ancestor_ids) +
						   level * sizeof(__u64));
	return id;
}

/* The cgroup list matches the task's cgroup or any ancestor: a container's scope covers what
 * nests inside it. Returns the action of the nearest listed ancestor, if any. */
static __always_inline __u8 *cgroup_action(__u32 gen, struct task_struct *task, int current)
{
	for (int level = WX_CGROUP_MAX_DEPTH - 1; level >= 0; level--) {
		__u64 id = ancestor_cgroup_id(task, current, level);
		if (!id)
			continue;
		__u8 *action = FILTER_LOOKUP(gen, wx_filter_cgroup, &id);
		if (action)
			return action;
	}
	return 0;
}

/* 1 if task's process is filtered out: by an allowlist, or (with_scope) by a scope. current:
 * task is the current task (cheaper helpers for its uid, name and cgroups). */
static __always_inline int filtered_task(struct task_struct *task, int current, int with_scope)
{
	__u32 zero = 0;
	__u32 *g = bpf_map_lookup_elem(&wx_filter_gen, &zero);
	__u32 gen = g && *g ? 1 : 0;
	struct wx_filter_config *cfg = bpf_map_lookup_elem(&wx_filter_config, &gen);
	if (!cfg || !cfg->active_mask)
		return 0;
	__u32 active = cfg->active_mask;
	__u32 scope = with_scope ? cfg->scope_mask : 0;
	__u32 tgid = BPF_CORE_READ(task, tgid);
	if ((active & (1u << WX_FILTER_PID)) &&
	    filtered_by(scope, WX_FILTER_PID, FILTER_LOOKUP(gen, wx_filter_pid, &tgid)))
		return 1;
	__u32 uid = current ? (__u32)bpf_get_current_uid_gid() : BPF_CORE_READ(task, cred, uid.val);
	if ((active & (1u << WX_FILTER_UID)) &&
	    filtered_by(scope, WX_FILTER_UID, FILTER_LOOKUP(gen, wx_filter_uid, &uid)))
		return 1;
	if (active & (1u << WX_FILTER_COMM)) {
		char comm[WX_COMM_LEN] = {};
		if (current)
			bpf_get_current_comm(comm, sizeof(comm));
		else
			bpf_probe_read_kernel_str(comm, sizeof(comm), BPF_CORE_READ(task, comm));
		if (filtered_by(scope, WX_FILTER_COMM, FILTER_LOOKUP(gen, wx_filter_comm, comm)))
			return 1;
	}
	if ((active & (1u << WX_FILTER_CGROUP)) &&
	    filtered_by(scope, WX_FILTER_CGROUP, cgroup_action(gen, task, current)))
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

static __always_inline int filtered(struct task_struct *task, int with_scope)
{
	return filtered_task(task, 1, with_scope);
}

/* Whether the current call is not ours to judge: the sensor itself, or a filtered process. */
static __always_inline int skip_process(struct task_struct *task)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32; /* task is the current one */
	if (tgid == self_tgid)
		return 1;
	if (probe_tgid && tgid == probe_tgid)
		return 0;
	/* Under enforcement the scope names whom to refuse; everyone is still audited. */
	if (!filtered(task, !enforce))
		return 0;
	/* A filtered call counts once as seen and once as filtered, so that the books balance. */
	count(WX_CNT_SEEN);
	count(WX_CNT_FILTERED);
	return 1;
}

/* Whether task's process is one enforcement refuses: in the scope (any process under
 * --enforce-all), not allowlisted, never the sensor or its self-check. */
static __always_inline int enforced_on(struct task_struct *task, int current)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	if (!enforce || tgid == self_tgid || (probe_tgid && tgid == probe_tgid))
		return 0;
	return !filtered_task(task, current, 1);
}

#endif /* WXWATCH_FILTERS_BPF_H */
