// The JS-facing native sensor: owns the BPF program and the ring drainer, and carries batches
// to a JS callback through one thread-safe function call per batch.
//
// Lifecycle (node-addon-api's pattern): start(onBatch) attaches, starts the drainer and creates
// the thread-safe function (TSFN), which holds the only reference to onBatch. stop() detaches
// and asks the drainer for its last batch; after handing it over the drainer releases the TSFN.
// The TSFN's finaliser then owns the end: it joins the drainer, keeps the final counters, frees
// the program and resolves stop()'s promise. On environment teardown (worker.terminate(), the
// main environment's exit) Node finalises the TSFN itself: the same finaliser runs, and no call
// into JS is made or required. Nothing else holds a persistent handle, so a closed sensor is
// collectable.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <vector>

#include "bpf_program.h"
#include "ring_drainer.h"

namespace wxwatch {

class SensorWrap : public Napi::ObjectWrap<SensorWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit SensorWrap(const Napi::CallbackInfo& info);

 private:
  struct Session;
  static void CallJs(Napi::Env env, Napi::Function callback, Session* session, Batch* batch);
  static void Finalize(Napi::Env env, std::shared_ptr<Session>* owner, Session* session);
  using BatchTsfn = Napi::TypedThreadSafeFunction<Session, Batch, CallJs>;

  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  void SetFilters(const Napi::CallbackInfo& info);
  void Detach(const Napi::CallbackInfo& info);
  Napi::Value Probe(const Napi::CallbackInfo& info);

  ProgramConfig program_config_{};
  std::vector<HookMode> modes_;  // tried in order until one loads and attaches
  DrainConfig drain_config_{};
  // Shared with the TSFN's finaliser, which may run after this wrapper is collected (teardown).
  std::shared_ptr<Session> session_;
};

// Everything a started sensor owns. JS thread only, except tsfn and closing (drainer thread).
struct SensorWrap::Session {
  std::unique_ptr<BpfProgram> program;
  std::unique_ptr<RingDrainer> drainer;
  BatchTsfn tsfn;
  std::atomic<bool> closing{false};  // the TSFN refused a call: make no more
  napi_deferred stopped = nullptr;   // stop()'s promise, resolved by the finaliser
  bool ended = false;                // the finaliser has run
  Counters final_counters{};
  uint64_t final_misses = 0;
  DrainStats final_drain{};

  void deliver(Batch* batch);  // drainer thread
};

}  // namespace wxwatch
