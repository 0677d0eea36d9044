// The kernel side as one object: opens, configures, loads and attaches the embedded BPF
// skeleton in its constructor; detaches and frees everything in its destructor.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "wxwatch.h"

struct wxwatch_bpf;

namespace wxwatch {

// How mprotect's VMAs are judged. Tracepoint: the enter tracepoint walks the range itself.
// Fentry/Kprobe: a hook on security_file_mprotect sees each VMA as the kernel judges it.
enum class HookMode { Tracepoint, Fentry, Kprobe };

const char* hook_mode_name(HookMode mode);

struct ProgramConfig {
  HookMode mode;
  uint32_t self_tgid;    // excluded in the kernel: the embedding process's own JIT
  uint32_t ring_bytes;   // power of two, multiple of the page size
  bool emit_denied;      // also emit calls that failed
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
  // The per-CPU counters, summed over CPUs.
  Counters counters() const;

 private:
  struct Destroy {
    void operator()(wxwatch_bpf* skel) const;
  };
  std::unique_ptr<wxwatch_bpf, Destroy> skel_;
};

}  // namespace wxwatch
