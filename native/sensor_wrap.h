// The JS-facing native sensor: owns the BPF program and the ring drainer, and carries batches
// to a JS callback through one thread-safe function call per batch.
//
// Lifecycle: start() attaches and starts draining; stop() asks the drainer for its last batch;
// when that batch reaches the JS thread the drainer is joined, the program detached and freed,
// and the callback is called with last = true. The environment's cleanup hook runs teardown()
// instead, which ends the same way without calling into JS.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>
#include <vector>

#include "bpf_program.h"
#include "ring_drainer.h"

namespace wxwatch {

class SensorWrap : public Napi::ObjectWrap<SensorWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit SensorWrap(const Napi::CallbackInfo& info);
  ~SensorWrap() override;

 private:
  static void CallJs(Napi::Env env, Napi::Function callback, SensorWrap* self, Batch* batch);
  using BatchTsfn = Napi::TypedThreadSafeFunction<SensorWrap, Batch, CallJs>;

  Napi::Value Start(const Napi::CallbackInfo& info);
  void Stop(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  void SetFilters(const Napi::CallbackInfo& info);
  Napi::Value Probe(const Napi::CallbackInfo& info);

  void deliver(Batch* batch);  // drainer thread
  void finish();               // JS thread, once the last batch has arrived
  void teardown();             // environment cleanup: stop without calling into JS

  ProgramConfig program_config_{};
  std::vector<HookMode> modes_;  // tried in order until one loads and attaches
  DrainConfig drain_config_{};
  Napi::FunctionReference on_batch_;
  std::unique_ptr<BpfProgram> program_;
  std::unique_ptr<RingDrainer> drainer_;
  BatchTsfn tsfn_;
  std::optional<Napi::Env::CleanupHook<void (*)(SensorWrap*), SensorWrap>> cleanup_hook_;
  Counters final_counters_{};
  DrainStats final_drain_{};
  bool started_ = false;
};

}  // namespace wxwatch
