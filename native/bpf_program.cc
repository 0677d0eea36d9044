#include "bpf_program.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <thread>
#include <vector>

#include "wxwatch_bpf.skel.h"
#include "wxwatch_lts_bpf.skel.h"

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
void BpfProgram::Destroy::operator()(wxwatch_lts_bpf* skel) const { wxwatch_lts_bpf__destroy(skel); }

namespace {

// The running kernel's BTF, for the choices made before load.
struct KernelBtf {
  btf* vmlinux = btf__load_vmlinux_btf();
  ~KernelBtf() { btf__free(vmlinux); }
  bool has_function(const char* name) const {
    return vmlinux && btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) > 0;
  }
  // A function a trampoline can take: at most six arguments before 6.3 (where more are taken,
  // BTF shows nothing of it, so seven and more count as too many unless the kernel is newer).
  int arg_count(const char* name) const {
    if (!vmlinux) return -1;
    int id = btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC);
    if (id <= 0) return -1;
    const btf_type* proto = btf__type_by_id(vmlinux, btf__type_by_id(vmlinux, id)->type);
    return proto && btf_is_func_proto(proto) ? btf_vlen(proto) : -1;
  }
  // Whether this kernel's mmap_lock tracepoints still carry the memcg path argument (before
  // 6.10): their BTF prototype (void *, mm, memcg_path, write, success) has five parameters.
  bool lock_tracepoint_has_memcg() const {
    if (!vmlinux) return false;
    int id = btf__find_by_name_kind(vmlinux, "btf_trace_mmap_lock_acquire_returned", BTF_KIND_TYPEDEF);
    if (id <= 0) return false;
    const btf_type* t = btf__type_by_id(vmlinux, btf__resolve_type(vmlinux, id));
    if (t && btf_is_ptr(t)) t = btf__type_by_id(vmlinux, t->type);
    return t && btf_is_func_proto(t) && btf_vlen(t) == 5;
  }
};

// The verifier stops on a pending signal (EAGAIN), and a service with a sampling profiler
// (SIGPROF every millisecond) always has one: load on a thread that blocks every signal, and
// try again a few times if one still gets through. libbpf's log is collected on that thread.
template <typename F>
int without_signals(std::string& log, F&& step) {
  int err = 0;
  std::thread([&] {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    LogScope scope;
    for (int attempt = 0; attempt < 5; attempt++) {
      err = step();
      if (err != -EAGAIN && err != -EINTR) break;
    }
    log += scope.log;
  }).join();
  return err;
}

}  // namespace

namespace {

// What both objects take between open and load (the same .rodata names in each).
template <typename Rodata>
void set_rodata(Rodata* ro, const ProgramConfig& config) {
  ro->enforce = config.enforce ? 1 : 0;
  ro->dedup = config.dedup ? 1 : 0;
  ro->self_tgid = config.self_tgid;
  ro->emit_denied = config.emit_denied ? 1 : 0;
  // Wake the reader early once a quarter of the ring is queued; below that it drains on a timer.
  ro->wakeup_bytes = config.ring_bytes / 4;
  ro->ring_bytes = config.ring_bytes;
  ro->capture_bytes = config.capture_bytes;
}

}  // namespace

BpfProgram::BpfProgram(const ProgramConfig& config) {
  LogScope scope;
  const KernelBtf kernel;
  const bool tracepoint = config.mode == HookMode::Tracepoint;
  const bool trampoline = !tracepoint;
  // Before 6.0, mprotect_fixup(vma, pprev, start, end, newflags) has no tlb argument, and the
  // kernel lacks what the main object uses (task storage, bpf_loop, ...): the LTS object.
  const bool lts = trampoline && kernel.arg_count("mprotect_fixup") == 5;
  if (lts) {
    lts_.reset(wxwatch_lts_bpf__open());
    if (!lts_) throw BpfError("open", errno, scope.log);
    obj_ = lts_->obj;
    probe_tgid_ = &lts_->bss->probe_tgid;
    set_rodata(lts_->rodata, config);
    // Forced and remote writes: the page walk every gup path calls, where the kernel has it.
    bpf_program__set_autoload(lts_->progs.fentry__follow_page_mask, kernel.has_function("follow_page_mask"));
    bpf_program__set_autoload(lts_->progs.fentry__mcopy_atomic, kernel.has_function("mcopy_atomic"));
    auto& p = lts_->progs;
    for (bpf_program* prog : {p.lsm__file_mprotect, p.lsm__mmap_file, p.lsm__shm_shmat, p.lsm__file_permission,
                              p.lsm__ptrace_access_check, p.lsm__ptrace_traceme, p.lsm__file_ioctl})
      bpf_program__set_autoload(prog, config.enforce);
  } else {
    skel_.reset(wxwatch_bpf__open());
    if (!skel_) throw BpfError("open", errno, scope.log);
    obj_ = skel_->obj;
    probe_tgid_ = &skel_->bss->probe_tgid;
    set_rodata(skel_->rodata, config);
    // Only the chosen mode's programs are loaded.
    const bool memcg = tracepoint && kernel.lock_tracepoint_has_memcg();
    auto& p = skel_->progs;
    bpf_program__set_autoload(p.raw_tp__mmap_lock_acquire_returned, tracepoint && !memcg);
    bpf_program__set_autoload(p.raw_tp__mmap_lock_released, tracepoint && !memcg);
    bpf_program__set_autoload(p.raw_tp__mmap_lock_acquire_returned_memcg, memcg);
    bpf_program__set_autoload(p.raw_tp__mmap_lock_released_memcg, memcg);
    bpf_program__set_autoload(p.raw_tp__ma_write, tracepoint);
    bpf_program__set_autoload(p.fentry__do_mprotect_pkey, trampoline);
    bpf_program__set_autoload(p.fexit__do_mprotect_pkey, trampoline);
    const std::array<std::array<bpf_program*, 2>, 3> copies = {{{p.fentry__mprotect_fixup_0, p.fexit__mprotect_fixup_0},
                                                                 {p.fentry__mprotect_fixup_1, p.fexit__mprotect_fixup_1},
                                                                 {p.fentry__mprotect_fixup_2, p.fexit__mprotect_fixup_2}}};
    for (uint32_t n = 0; n < copies.size(); n++)
      for (bpf_program* prog : copies[n]) bpf_program__set_autoload(prog, trampoline && (n == 0 || n < config.fixup_copies));
    bpf_program__set_autoload(p.fexit__mmap_region, trampoline);
    bpf_program__set_autoload(p.fexit__security_file_mprotect, trampoline && config.emit_denied);
    // Forced and remote writes: the gup entry points, or (six arguments at most before 6.3) the
    // page walk they call.
    const bool remote_gup = kernel.arg_count("get_user_pages_remote") > 0 && kernel.arg_count("get_user_pages_remote") <= 6 &&
                            kernel.arg_count("pin_user_pages_remote") <= 6;
    bpf_program__set_autoload(p.fentry__get_user_pages_remote, trampoline && remote_gup);
    bpf_program__set_autoload(p.fentry__pin_user_pages_remote, trampoline && remote_gup);
    bpf_program__set_autoload(p.fentry__follow_page_mask, trampoline && !remote_gup && kernel.has_function("follow_page_mask"));
    bpf_program__set_autoload(p.fentry__security_file_permission, trampoline);
    // userfaultfd's fill functions were renamed in 6.4
    const bool mfill = kernel.has_function("mfill_atomic_copy");
    bpf_program__set_autoload(p.fentry__mfill_atomic_copy, trampoline && mfill);
    bpf_program__set_autoload(p.fentry__mfill_atomic_continue, trampoline && mfill);
    bpf_program__set_autoload(p.fentry__mcopy_atomic, trampoline && !mfill && kernel.has_function("mcopy_atomic"));
    bpf_program__set_autoload(p.fentry__mcopy_continue, trampoline && !mfill && kernel.has_function("mcopy_continue"));
    const bool enforce = trampoline && config.enforce;
    bpf_program__set_autoload(p.lsm__file_mprotect, enforce);
    bpf_program__set_autoload(p.lsm__mmap_file, enforce);
    bpf_program__set_autoload(p.lsm__shm_shmat, enforce);
    bpf_program__set_autoload(p.lsm__file_permission, enforce);
    bpf_program__set_autoload(p.lsm__ptrace_access_check, enforce);
    bpf_program__set_autoload(p.lsm__ptrace_traceme, enforce);
    bpf_program__set_autoload(p.lsm__inode_init_security_anon, enforce);
  }
  if (int err = bpf_map__set_max_entries(map("wx_events"), config.ring_bytes))
    throw BpfError("configure", err, scope.log);
  // Work slots per CPU (the programs index them with their CPU number).
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) throw BpfError("configure", cpus ? cpus : EINVAL, "cannot count the CPUs");
  if (int err = bpf_map__set_max_entries(map("wx_scratch"), static_cast<uint32_t>(cpus) * WX_SLOTS_PER_CPU))
    throw BpfError("configure", err, scope.log);
  if (int err = without_signals(scope.log, [&] { return lts ? wxwatch_lts_bpf__load(lts_.get()) : wxwatch_bpf__load(skel_.get()); }))
    throw BpfError("load", err, scope.log);
  set_filters(config.filters, config.filter_config);
  if (int err = lts ? wxwatch_lts_bpf__attach(lts_.get()) : wxwatch_bpf__attach(skel_.get()))
    throw BpfError("attach", err, scope.log);
}

bpf_map* BpfProgram::map(const char* name) const {
  bpf_map* m = bpf_object__find_map_by_name(obj_, name);
  if (!m) throw BpfError("configure", ENOENT, std::string("the BPF object has no map ") + name);
  return m;
}

uint32_t BpfProgram::ring_map_id() const {
  bpf_map_info info{};
  uint32_t len = sizeof info;
  return bpf_obj_get_info_by_fd(ring_fd(), &info, &len) ? 0 : info.id;
}

void BpfProgram::flush_summaries(bool force) {
  wx_flush_args args{.force = force ? 1u : 0u};
  LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof args);
  // Fails only if the program could not run; its records are then counted where they wait.
  // (The LTS object has no fair shares, hence no summaries to flush.)
  bpf_program* prog = bpf_object__find_program_by_name(obj_, "flush_summaries");
  if (prog) bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
}

std::vector<std::string> BpfProgram::program_names() const {
  std::vector<std::string> names;
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    if (bpf_program__fd(prog) >= 0) names.emplace_back(bpf_program__name(prog));
  }
  return names;
}

uint64_t BpfProgram::recursion_misses() const {
  uint64_t misses = 0;
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    int fd = bpf_program__fd(prog);
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0) misses += info.recursion_misses;
  }
  return misses;
}

std::vector<uint32_t> BpfProgram::program_ids() const {
  std::vector<uint32_t> ids;
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    int fd = bpf_program__fd(prog);
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0) ids.push_back(info.id);
  }
  return ids;
}

void BpfProgram::set_probe_tgid(uint32_t tgid) {
  __atomic_store_n(probe_tgid_, tgid, __ATOMIC_SEQ_CST);
}

void BpfProgram::detach() {
  if (lts_)
    wxwatch_lts_bpf__detach(lts_.get());
  else
    wxwatch_bpf__detach(skel_.get());
}

namespace {

struct FilterMap {
  bpf_map* map;
  size_t key_size;
};

struct FilterMapName {
  const char* names[2];  // generation 0, 1
  size_t key_size;
};

FilterMapName filter_map_name(uint32_t kind) {
  switch (kind) {
    case WX_FILTER_PID: return {{"wx_filter_pid_0", "wx_filter_pid_1"}, sizeof(uint32_t)};
    case WX_FILTER_UID: return {{"wx_filter_uid_0", "wx_filter_uid_1"}, sizeof(uint32_t)};
    case WX_FILTER_COMM: return {{"wx_filter_comm_0", "wx_filter_comm_1"}, WX_COMM_LEN};
    case WX_FILTER_CGROUP: return {{"wx_filter_cgroup_0", "wx_filter_cgroup_1"}, sizeof(uint64_t)};
    case WX_FILTER_EXE: return {{"wx_filter_exe_0", "wx_filter_exe_1"}, sizeof(wx_exe_key)};
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
    const FilterMapName n = filter_map_name(kind);
    const FilterMap fm{map(n.names[next]), n.key_size};
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
  if (bpf_map_update_elem(bpf_map__fd(map("wx_filter_config")), &next, &value, BPF_ANY))
    throw BpfError("filter", errno, "config update");
  const uint32_t zero = 0;
  if (bpf_map_update_elem(bpf_map__fd(map("wx_filter_gen")), &zero, &next, BPF_ANY))
    throw BpfError("filter", errno, "generation flip");
  active_gen_ = next;
}

int BpfProgram::ring_fd() const { return bpf_map__fd(map("wx_events")); }

Counters BpfProgram::counters() const {
  Counters sums{};
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return sums;
  std::vector<uint64_t> per_cpu(ncpu);
  int fd = bpf_map__fd(map("wx_counters"));
  for (uint32_t key = 0; key < WX_CNT_MAX; key++) {
    if (bpf_map_lookup_elem(fd, &key, per_cpu.data())) continue;
    for (uint64_t v : per_cpu) sums[key] += v;
  }
  return sums;
}

}  // namespace wxwatch
