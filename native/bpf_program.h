// The kernel side as one object: opens, configures, loads and attaches the embedded BPF
// skeleton in its constructor; detaches and frees everything in its destructor. Two skeletons
// are embedded: bpf/wxwatch.bpf.c, and for lsm-hook mode on kernels before 6.0 (mprotect_fixup
// without its tlb argument: Debian 11's 5.10) bpf/lts/wxwatch-lts.bpf.c, which has the same
// ring, counters and filter maps by name; the one loaded is chosen from the kernel's BTF.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "wxwatch.h"

struct bpf_map;
struct bpf_object;
struct wxwatch_bpf;
struct wxwatch_lts_bpf;

namespace wxwatch {

// Where changes are seen. Tracepoint: the mmap_lock (and maple tree) tracepoints. Trampoline
// ("lsm-hook"): fentry/fexit on mprotect_fixup and mmap_region.
enum class HookMode { Tracepoint, Trampoline };

const char* hook_mode_name(HookMode mode);

// The whole content of one allowlist/scope map: keys packed back to back, one action each.
struct FilterSet {
  uint32_t kind;                // enum wx_filter_kind
  std::vector<uint8_t> keys;    // n * key size of that kind
  std::vector<uint8_t> actions; // n * WX_ACT_*
};

struct FilterConfig {
  uint32_t active_mask = 0;  // bit per kind with entries
  uint32_t scope_mask = 0;   // bit per kind that is a scope
};

struct ProgramConfig {
  HookMode mode;
  bool dedup;                      // one record per transition per process image
  std::vector<FilterSet> filters;  // applied after load, before attach
  FilterConfig filter_config;
  uint32_t self_tgid;    // excluded in the kernel: the embedding process's own JIT
  uint32_t ring_bytes;   // power of two, multiple of the page size
  bool emit_denied;      // also emit calls that failed
  bool enforce;          // refuse W→X of watched processes (BPF LSM, lsm-hook mode only)
  uint32_t capture_bytes; // code copied into W→X, alias and blocked records (0: none)
  uint32_t fixup_copies;  // copies of the mprotect_fixup programs attached (lsm-hook): 1, or 3 on
                          // a kernel that can preempt them
};

// A failed libbpf step: the phase (open/configure/load/attach), the errno, libbpf's log.
class BpfError : public std::runtime_error {
 public:
  BpfError(std::string phase, int err, std::string log);
  const std::string phase;
  const int err;
  const std::string log;
};

using Counters = std::array<uint64_t, WX_CNT_MAX>;

class BpfProgram {
 public:
  explicit BpfProgram(const ProgramConfig& config);
  BpfProgram(const BpfProgram&) = delete;
  BpfProgram& operator=(const BpfProgram&) = delete;

  int ring_fd() const;
  // Kernel ids: the ring buffer map (so a benchmark can feed it) and each loaded program (so a
  // caller can check they are gone after close).
  uint32_t ring_map_id() const;
  std::vector<uint32_t> program_ids() const;
  // The loaded programs' names (bpf/*.bpf.h: named after their hooks).
  std::vector<std::string> program_names() const;
  // Which object was loaded: the one for kernels before 6.0 (bpf/lts/) or the main one.
  bool lts() const { return lts_ != nullptr; }
  // Replaces every list and the config at once: all or nothing for the programs.
  void set_filters(const std::vector<FilterSet>& sets, const FilterConfig& config);
  // The self-check child: watched whatever the filters say (0: none).
  void set_probe_tgid(uint32_t tgid);
  // Detaches every program; maps stay readable, so the ring can still be drained.
  void detach();
  // The per-CPU counters, summed over CPUs.
  Counters counters() const;
  // Writes the summary records of processes whose throttled records wait for one (they went
  // quiet while the ring was filling); force: all of them now (at stop).
  void flush_summaries(bool force);
  // Runs the kernel skipped, summed over every program: a trampoline program that starts on a
  // CPU where a preempted run of it is in progress is not run (bpf_prog_info.recursion_misses).
  uint64_t recursion_misses() const;

 private:
  struct Destroy {
    void operator()(wxwatch_bpf* skel) const;
    void operator()(wxwatch_lts_bpf* skel) const;
  };
  bpf_map* map(const char* name) const;
  std::unique_ptr<wxwatch_bpf, Destroy> skel_;      // the main object, or
  std::unique_ptr<wxwatch_lts_bpf, Destroy> lts_;   // the one for kernels before 6.0
  bpf_object* obj_ = nullptr;                       // whichever is loaded
  volatile uint32_t* probe_tgid_ = nullptr;         // its .bss probe_tgid
  uint32_t active_gen_ = 1;  // the first set_filters() fills generation 0
};

}  // namespace wxwatch
