#include "sensor_wrap.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <system_error>


namespace wxwatch {
namespace {

// Batches waiting for the JS thread. When the queue is full the drainer blocks, the ring fills
// and the kernel counts what it cannot write: back-pressure ends in a counted loss, never in
// unbounded memory.
constexpr size_t kMaxQueuedBatches = 16;

uint32_t u32_option(const Napi::Object& opts, const char* key) {
  return opts.Get(key).As<Napi::Number>().Uint32Value();
}

Napi::Error to_js_error(Napi::Env env, const BpfError& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("phase", Napi::String::New(env, e.phase));
  err.Set("errno", Napi::Number::New(env, e.err));
  err.Set("libbpfLog", Napi::String::New(env, e.log));
  return err;
}

Napi::Error to_js_error(Napi::Env env, const std::system_error& e, const char* phase) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("phase", Napi::String::New(env, phase));
  err.Set("errno", Napi::Number::New(env, e.code().value()));
  return err;
}

std::vector<uint8_t> bytes_of(const Napi::Value& v) {
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  return std::vector<uint8_t>(a.Data(), a.Data() + a.ByteLength());
}

// [{kind, keys: Uint8Array, actions: Uint8Array}], {activeMask, scopeMask}
std::vector<FilterSet> parse_filters(const Napi::Array& list) {
  std::vector<FilterSet> sets;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Object o = list.Get(i).As<Napi::Object>();
    sets.push_back({o.Get("kind").As<Napi::Number>().Uint32Value(), bytes_of(o.Get("keys")), bytes_of(o.Get("actions"))});
  }
  return sets;
}

FilterConfig parse_filter_config(const Napi::Object& o) {
  return {o.Get("activeMask").As<Napi::Number>().Uint32Value(), o.Get("scopeMask").As<Napi::Number>().Uint32Value()};
}

HookMode parse_mode(const std::string& name) {
  return name == "lsm-hook" ? HookMode::Trampoline : HookMode::Tracepoint;
}

}  // namespace

Napi::Function SensorWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeSensor",
                     {InstanceMethod<&SensorWrap::Start>("start"), InstanceMethod<&SensorWrap::Stop>("stop"),
                      InstanceMethod<&SensorWrap::Stats>("stats"),
                      InstanceMethod<&SensorWrap::SetFilters>("setFilters"),
                      InstanceMethod<&SensorWrap::Probe>("probe")});
}

// new NativeSensor({modes, ringBytes, alertMask, batchBytes, drainIntervalMs, emitDenied}, onBatch)
// Options are validated in TypeScript; this only reads them.
SensorWrap::SensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SensorWrap>(info) {
  Napi::Object opts = info[0].As<Napi::Object>();
  program_config_ = {
      .self_tgid = static_cast<uint32_t>(getpid()),
      .ring_bytes = u32_option(opts, "ringBytes"),
      .emit_denied = opts.Get("emitDenied").ToBoolean().Value(),
      .enforce = opts.Get("enforce").ToBoolean().Value(),
      .capture_bytes = u32_option(opts, "captureBytes"),
  };
  program_config_.dedup = opts.Get("dedup").ToBoolean().Value();
  program_config_.filters = parse_filters(opts.Get("filters").As<Napi::Array>());
  program_config_.filter_config = parse_filter_config(opts.Get("filterConfig").As<Napi::Object>());
  drain_config_ = {
      .alert_mask = u32_option(opts, "alertMask"),
      .flag_mask = u32_option(opts, "flagMask"),
      // Never below one record of the largest size: on_record copies whole records.
      .batch_bytes = std::max<size_t>(u32_option(opts, "batchBytes"),
                                      (WX_RECORD_MAX_SIZE + WX_RECORD_ALIGN - 1) & ~size_t(WX_RECORD_ALIGN - 1)),
      .interval_ms = static_cast<int>(u32_option(opts, "drainIntervalMs")),
  };
  Napi::Array modes = opts.Get("modes").As<Napi::Array>();
  for (uint32_t i = 0; i < modes.Length(); i++)
    modes_.push_back(parse_mode(modes.Get(i).As<Napi::String>().Utf8Value()));
  on_batch_ = Napi::Persistent(info[1].As<Napi::Function>());
}

SensorWrap::~SensorWrap() { teardown(); }

Napi::Value SensorWrap::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (started_) throw Napi::Error::New(env, "wxwatch: a native sensor starts once");
  started_ = true;
  // Each mode that fails to load or attach is reported with why, and the next one is tried.
  Napi::Array fallbacks = Napi::Array::New(env);
  for (size_t i = 0; i < modes_.size() && !program_; i++) {
    program_config_.mode = modes_[i];
    try {
      program_ = std::make_unique<BpfProgram>(program_config_);
    } catch (const BpfError& e) {
      if (i + 1 == modes_.size()) {
        Napi::Error err = to_js_error(env, e);
        err.Set("fallbacks", fallbacks);
        throw err;
      }
      Napi::Object failed = Napi::Object::New(env);
      failed.Set("mode", hook_mode_name(modes_[i]));
      failed.Set("phase", e.phase);
      failed.Set("errno", e.err);
      failed.Set("reason", std::strerror(e.err));
      failed.Set("log", e.log);
      fallbacks.Set(fallbacks.Length(), failed);
    }
  }
  tsfn_ = BatchTsfn::New(env, on_batch_.Value(), "wxwatch batches", kMaxQueuedBatches, 1, this);
  try {
    drainer_ = std::make_unique<RingDrainer>(program_->ring_fd(), drain_config_,
                                             [this](Batch* batch) { deliver(batch); });
  } catch (const std::system_error& e) {
    tsfn_.Release();
    program_.reset();
    throw to_js_error(env, e, "drain");
  }
  cleanup_hook_ = env.AddCleanupHook(+[](SensorWrap* self) { self->teardown(); }, this);

  Napi::Object result = Napi::Object::New(env);
  result.Set("mode", hook_mode_name(program_config_.mode));
  result.Set("fallbacks", fallbacks);
  result.Set("ringMapId", program_->ring_map_id());
  Napi::Array ids = Napi::Array::New(env);
  for (uint32_t id : program_->program_ids()) ids.Set(ids.Length(), id);
  result.Set("programIds", ids);
  return result;
}

// Detach first, then drain: every record the programs wrote is read before the books close.
void SensorWrap::Stop(const Napi::CallbackInfo&) {
  if (!drainer_) return;
  program_->detach();
  drainer_->request_stop();
}

// setFilters(filters, filterConfig): replaces the listed kinds' entries while running. (Before
// start, filters come with the constructor's options and are applied between load and attach.)
void SensorWrap::SetFilters(const Napi::CallbackInfo& info) {
  if (!program_) throw Napi::Error::New(info.Env(), "wxwatch: setFilters on a sensor that is not running");
  std::vector<FilterSet> sets = parse_filters(info[0].As<Napi::Array>());
  FilterConfig config = parse_filter_config(info[1].As<Napi::Object>());
  try {
    for (const FilterSet& set : sets) program_->set_filter(set);
    program_->set_filter_config(config);
  } catch (const BpfError& e) {
    throw to_js_error(info.Env(), e);
  }
}

// probe(): forks a child that makes one page RW→RX and exits; returns its pid. The child waits
// on a pipe until the kernel side knows its pid, and does only async-signal-safe system calls
// (this process has threads).
Napi::Value SensorWrap::Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!program_) throw Napi::Error::New(env, "wxwatch: probe on a sensor that is not running");
  int go[2];
  if (pipe2(go, O_CLOEXEC)) throw Napi::Error::New(env, std::string("wxwatch: self-check: pipe: ") + std::strerror(errno));
  pid_t child = fork();
  if (child < 0) {
    int err = errno;
    close(go[0]);
    close(go[1]);
    throw Napi::Error::New(env, std::string("wxwatch: self-check: fork: ") + std::strerror(err));
  }
  if (child == 0) {
    close(go[1]);
    char byte;
    if (read(go[0], &byte, 1) != 1) _exit(2);
    void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) _exit(3);
    static_cast<unsigned char*>(page)[0] = 0xc3;  // ret
    _exit(mprotect(page, 4096, PROT_READ | PROT_EXEC) ? 4 : 0);
  }
  close(go[0]);
  program_->set_probe_tgid(static_cast<uint32_t>(child));
  [[maybe_unused]] ssize_t n = write(go[1], "x", 1);
  close(go[1]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  program_->set_probe_tgid(0);  // its records were written during its mprotect, before it exited
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Napi::Error::New(env, "wxwatch: self-check: the helper process could not make a page executable");
  return Napi::Number::New(env, child);
}

void SensorWrap::deliver(Batch* batch) {
  // Fails only once the function is aborted (environment teardown): then nobody will read it.
  if (tsfn_.BlockingCall(batch) != napi_ok) release(batch);
}

void SensorWrap::CallJs(Napi::Env env, Napi::Function callback, SensorWrap* self, Batch* batch) {
  if (!env || !callback) {  // the environment is going away: only free
    release(batch);
    return;
  }
  const uint32_t records = batch->records;
  const bool last = batch->last;
  Napi::Value buffer = env.Null();
  if (records) {
    try {
      // Zero-copy: the ArrayBuffer owns the batch from here and gives it back to the pool when
      // collected. Telling V8 about the memory makes it collect sooner, so buffers come back.
      const int64_t held = static_cast<int64_t>(batch->pool->capacity());
      buffer = Napi::ArrayBuffer::New(
          env, batch->data, batch->bytes,
          [](Napi::Env env, void*, Batch* owned) {
            Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(owned->pool->capacity()));
            release(owned);
          },
          batch);
      Napi::MemoryManagement::AdjustExternalMemory(env, held);
      batch = nullptr;
    } catch (const Napi::Error&) {
      // Runtimes that forbid external buffers: one copy.
      Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, batch->bytes);
      std::memcpy(copy.Data(), batch->data, batch->bytes);
      buffer = copy;
    }
  }
  release(batch);
  if (last) self->finish();
  callback.Call({buffer, Napi::Number::New(env, records), Napi::Boolean::New(env, last)});
}

void SensorWrap::finish() {
  drainer_->join();
  final_drain_ = drainer_->stats();
  final_counters_ = program_->counters();
  drainer_.reset();
  program_.reset();  // detaches every program and frees the skeleton
  tsfn_.Release();
  if (cleanup_hook_) cleanup_hook_->Remove(Env());
  cleanup_hook_.reset();
}

void SensorWrap::teardown() {
  if (!drainer_) return;
  tsfn_.Abort();  // a drainer blocked on a full queue returns at once
  drainer_->request_stop();
  drainer_->join();
  drainer_.reset();
  program_.reset();
  cleanup_hook_.reset();
}

Napi::Value SensorWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Counters c = program_ ? program_->counters() : final_counters_;
  const DrainStats d = drainer_ ? drainer_->stats() : final_drain_;
  Napi::Object out = Napi::Object::New(env);
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  out.Set("seen", num(c[WX_CNT_SEEN]));
  out.Set("lost", num(c[WX_CNT_LOST]));
  out.Set("filtered", num(c[WX_CNT_FILTERED]));
  out.Set("suppressed", num(c[WX_CNT_SUPPRESSED]));
  out.Set("vmaTruncated", num(c[WX_CNT_VMA_TRUNCATED]));
  out.Set("noState", num(c[WX_CNT_NO_STATE]));
  out.Set("degraded", num(c[WX_CNT_DEGRADED]));
  out.Set("drained", num(d.records));
  out.Set("prefiltered", num(d.prefiltered));
  out.Set("batches", num(d.batches));
  return out;
}

}  // namespace wxwatch
