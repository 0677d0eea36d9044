#include "bpf_program.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <vector>

#include "wxwatch_bpf.skel.h"

namespace wxwatch {
namespace {

// libbpf logs through one process-wide callback; each step collects what it logged on its own
// thread, so that an error can carry the verifier's or libbpf's own words.
thread_local std::string* log_sink = nullptr;

int collect_libbpf_log(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (!log_sink || level == LIBBPF_DEBUG) return 0;
  va_list measure;
  va_copy(measure, args);
  int n = vsnprintf(nullptr, 0, fmt, measure);
  va_end(measure);
  if (n <= 0) return 0;
  std::string line(size_t(n) + 1, '\0');  // the verifier's log comes as one string
  vsnprintf(line.data(), line.size(), fmt, args);
  line.resize(size_t(n));
  log_sink->append(line);
  // Keep the end: a verifier log states its verdict last.
  constexpr size_t kKeep = 16 * 1024;
  if (log_sink->size() > 2 * kKeep) log_sink->erase(0, log_sink->size() - kKeep);
  return 0;
}

struct LogScope {
  std::string log;
  LogScope() {
    libbpf_set_print(collect_libbpf_log);
    log_sink = &log;
  }
  ~LogScope() { log_sink = nullptr; }
};

std::string describe(const std::string& phase, int err, const std::string& log) {
  std::string msg = "wxwatch: BPF " + phase + " failed: " + std::strerror(err < 0 ? -err : err);
  if (!log.empty()) msg += "\n" + log;
  return msg;
}

}  // namespace

BpfError::BpfError(std::string phase_, int err_, std::string log_)
    : std::runtime_error(describe(phase_, err_, log_)), phase(std::move(phase_)), err(err_ < 0 ? -err_ : err_), log(std::move(log_)) {}

const char* hook_mode_name(HookMode mode) {
  return mode == HookMode::Trampoline ? "lsm-hook" : "tracepoint";
}

void BpfProgram::Destroy::operator()(wxwatch_bpf* skel) const { wxwatch_bpf__destroy(skel); }

namespace {

// Whether this kernel's mmap_lock tracepoints still carry the memcg path argument (before
// 6.10): their BTF prototype (void *, mm, memcg_path, write, success) has five parameters.
bool lock_tracepoint_has_memcg() {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return false;
  bool memcg = false;
  int id = btf__find_by_name_kind(vmlinux, "btf_trace_mmap_lock_acquire_returned", BTF_KIND_TYPEDEF);
  if (id > 0) {
    const btf_type* t = btf__type_by_id(vmlinux, btf__resolve_type(vmlinux, id));
    if (t && btf_is_ptr(t)) t = btf__type_by_id(vmlinux, t->type);
    if (t && btf_is_func_proto(t)) memcg = btf_vlen(t) == 5;
  }
  btf__free(vmlinux);
  return memcg;
}

}  // namespace

BpfProgram::BpfProgram(const ProgramConfig& config) {
  LogScope scope;
  skel_.reset(wxwatch_bpf__open());
  if (!skel_) throw BpfError("open", errno, scope.log);

  // Only the chosen mode's programs are loaded.
  const bool tracepoint = config.mode == HookMode::Tracepoint;
  const bool memcg = tracepoint && lock_tracepoint_has_memcg();
  bpf_program__set_autoload(skel_->progs.raw_tp__mmap_lock_acquire_returned, tracepoint && !memcg);
  bpf_program__set_autoload(skel_->progs.raw_tp__mmap_lock_released, tracepoint && !memcg);
  bpf_program__set_autoload(skel_->progs.raw_tp__mmap_lock_acquire_returned_memcg, memcg);
  bpf_program__set_autoload(skel_->progs.raw_tp__mmap_lock_released_memcg, memcg);
  bpf_program__set_autoload(skel_->progs.raw_tp__ma_write, tracepoint);
  bpf_program__set_autoload(skel_->progs.fentry__mprotect_fixup, !tracepoint);
  bpf_program__set_autoload(skel_->progs.fexit__mprotect_fixup, !tracepoint);
  bpf_program__set_autoload(skel_->progs.fexit__mmap_region, !tracepoint);
  bpf_program__set_autoload(skel_->progs.fexit__security_file_mprotect, !tracepoint && config.emit_denied);
  bpf_program__set_autoload(skel_->progs.lsm__file_mprotect, !tracepoint && config.enforce);
  skel_->rodata->enforce = config.enforce ? 1 : 0;
  skel_->rodata->dedup = config.dedup ? 1 : 0;
  skel_->rodata->self_tgid = config.self_tgid;
  skel_->rodata->emit_denied = config.emit_denied ? 1 : 0;
  // Wake the reader early once a quarter of the ring is queued; below that it drains on a timer.
  skel_->rodata->wakeup_bytes = config.ring_bytes / 4;
  skel_->rodata->capture_bytes = config.capture_bytes;
  if (int err = bpf_map__set_max_entries(skel_->maps.wx_events, config.ring_bytes))
    throw BpfError("configure", err, scope.log);
  // One work-space slot per CPU (the programs index it with their CPU number).
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) throw BpfError("configure", cpus ? cpus : EINVAL, "cannot count the CPUs");
  if (int err = bpf_map__set_max_entries(skel_->maps.wx_scratch, static_cast<uint32_t>(cpus)))
    throw BpfError("configure", err, scope.log);
  if (int err = wxwatch_bpf__load(skel_.get())) throw BpfError("load", err, scope.log);
  set_filters(config.filters, config.filter_config);
  if (int err = wxwatch_bpf__attach(skel_.get())) throw BpfError("attach", err, scope.log);
}

uint32_t BpfProgram::ring_map_id() const {
  bpf_map_info info{};
  uint32_t len = sizeof info;
  return bpf_obj_get_info_by_fd(ring_fd(), &info, &len) ? 0 : info.id;
}

std::vector<uint32_t> BpfProgram::program_ids() const {
  std::vector<uint32_t> ids;
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    int fd = bpf_program__fd(prog);
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0) ids.push_back(info.id);
  }
  return ids;
}

void BpfProgram::set_probe_tgid(uint32_t tgid) {
  __atomic_store_n(&skel_->bss->probe_tgid, tgid, __ATOMIC_SEQ_CST);
}

void BpfProgram::detach() { wxwatch_bpf__detach(skel_.get()); }

namespace {

struct FilterMap {
  bpf_map* map;
  size_t key_size;
};

FilterMap filter_map(wxwatch_bpf* skel, uint32_t kind, uint32_t gen) {
  auto& m = skel->maps;
  switch (kind) {
    case WX_FILTER_PID: return {gen ? m.wx_filter_pid_1 : m.wx_filter_pid_0, sizeof(uint32_t)};
    case WX_FILTER_UID: return {gen ? m.wx_filter_uid_1 : m.wx_filter_uid_0, sizeof(uint32_t)};
    case WX_FILTER_COMM: return {gen ? m.wx_filter_comm_1 : m.wx_filter_comm_0, WX_COMM_LEN};
    case WX_FILTER_CGROUP: return {gen ? m.wx_filter_cgroup_1 : m.wx_filter_cgroup_0, sizeof(uint64_t)};
    case WX_FILTER_EXE: return {gen ? m.wx_filter_exe_1 : m.wx_filter_exe_0, sizeof(wx_exe_key)};
    default: throw BpfError("filter", EINVAL, "unknown filter kind " + std::to_string(kind));
  }
}

// Empties one map (keys collected first: deleting the current key would break the walk).
void clear_map(int fd, size_t key_size) {
  std::vector<std::vector<uint8_t>> keys;
  std::vector<uint8_t> key(key_size), next(key_size);
  for (void* prev = nullptr; bpf_map_get_next_key(fd, prev, next.data()) == 0; prev = key.data()) {
    key = next;
    keys.push_back(key);
  }
  for (const auto& k : keys) bpf_map_delete_elem(fd, k.data());
}

}  // namespace

// Fills the generation not in use (every kind: a kind not listed is emptied), then flips to it
// with one write. Until the flip the programs read the old generation whole; a failure before
// it changes nothing they see.
void BpfProgram::set_filters(const std::vector<FilterSet>& sets, const FilterConfig& config) {
  const uint32_t next = active_gen_ ^ 1;
  for (uint32_t kind = 0; kind < WX_FILTER_KINDS; kind++) {
    const FilterMap fm = filter_map(skel_.get(), kind, next);
    const int fd = bpf_map__fd(fm.map);
    clear_map(fd, fm.key_size);
    for (const FilterSet& set : sets) {
      if (set.kind != kind) continue;
      const size_t n = set.actions.size();
      if (set.keys.size() != n * fm.key_size) throw BpfError("filter", EINVAL, "key bytes do not match the kind");
      if (n > WX_FILTER_MAX_ENTRIES) throw BpfError("filter", E2BIG, "more than 4096 entries of one kind");
      for (size_t i = 0; i < n; i++) {
        if (bpf_map_update_elem(fd, set.keys.data() + i * fm.key_size, &set.actions[i], BPF_ANY))
          throw BpfError("filter", errno, "map update");
      }
    }
  }
  const wx_filter_config value{.active_mask = config.active_mask, .scope_mask = config.scope_mask};
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.wx_filter_config), &next, &value, BPF_ANY))
    throw BpfError("filter", errno, "config update");
  const uint32_t zero = 0;
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.wx_filter_gen), &zero, &next, BPF_ANY))
    throw BpfError("filter", errno, "generation flip");
  active_gen_ = next;
}

int BpfProgram::ring_fd() const { return bpf_map__fd(skel_->maps.wx_events); }

Counters BpfProgram::counters() const {
  Counters sums{};
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return sums;
  std::vector<uint64_t> per_cpu(ncpu);
  int fd = bpf_map__fd(skel_->maps.wx_counters);
  for (uint32_t key = 0; key < WX_CNT_MAX; key++) {
    if (bpf_map_lookup_elem(fd, &key, per_cpu.data())) continue;
    for (uint64_t v : per_cpu) sums[key] += v;
  }
  return sums;
}

}  // namespace wxwatch
