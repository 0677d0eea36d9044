#include "sensor_wrap.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <system_error>
#include <utility>

#include <v8.h>


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

// An ArrayBuffer of the batch's own size holding a copy of its bytes (not zero-filled first);
// null if V8 refuses.
napi_value copy_of(napi_env env, const Batch* batch) {
  void* data = nullptr;
  napi_value node_buffer, array_buffer;
  size_t offset = 0;
  if (napi_create_buffer_copy(env, batch->bytes, batch->data, &data, &node_buffer) != napi_ok ||
      napi_get_typedarray_info(env, node_buffer, nullptr, nullptr, nullptr, &array_buffer, &offset) != napi_ok)
    return nullptr;
  // A Buffer this large has an ArrayBuffer of its own; a small one may sit in a shared pool.
  if (offset != 0) {
    void* own = nullptr;
    if (napi_create_arraybuffer(env, batch->bytes, &own, &array_buffer) != napi_ok) return nullptr;
    std::memcpy(own, batch->data, batch->bytes);
  }
  return array_buffer;
}

// The batch itself as an ArrayBuffer's memory, no copy: V8 gives it back to its pool when it
// frees the buffer, at collection, on whichever thread does that. (N-API's external buffers
// run their finaliser later, in the event loop's check phase, which a storm starves: their
// batches stayed mapped until it ended, 400 MB at the injector's rate.) V8's API because N-API
// has no deleter that runs at collection; napi_value is a v8::Local (Node's own cast).
// V8 runs a lent batch's deleter as late as the isolate's teardown, and Node unloads an addon
// when the last environment that loaded it ends (a worker's): the deleter's code must stay
// mapped. True once this library can no longer be unloaded; lending waits for it.
bool addon_pinned() {
  static const bool pinned = [] {
    Dl_info self{};
    return dladdr(reinterpret_cast<void*>(&release_lent), &self) && self.dli_fname &&
           dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
  }();
  return pinned;
}

napi_value lent_view_of(Batch* batch) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  auto give_back = [](void*, size_t, void* b) { release_lent(static_cast<Batch*>(b)); };
  std::unique_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(batch->data, batch->bytes, give_back, batch);
  v8::Local<v8::Value> buffer = v8::ArrayBuffer::New(isolate, std::move(store));
  static_assert(sizeof(napi_value) == sizeof(buffer));
  napi_value value;
  std::memcpy(&value, &buffer, sizeof value);
  return value;
}

HookMode parse_mode(const std::string& name) {
  return name == "lsm-hook" ? HookMode::Trampoline : HookMode::Tracepoint;
}

}  // namespace

Napi::Function SensorWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeSensor",
                     {InstanceMethod<&SensorWrap::Start>("start"), InstanceMethod<&SensorWrap::Stop>("stop"),
                      InstanceMethod<&SensorWrap::Stats>("stats"),
                      InstanceMethod<&SensorWrap::Detach>("detach"),
                      InstanceMethod<&SensorWrap::SetFilters>("setFilters"),
                      InstanceMethod<&SensorWrap::Probe>("probe")});
}

// new NativeSensor({modes, ringBytes, alertMask, batchBytes, drainIntervalMs, emitDenied, ...})
// Options are validated in TypeScript; this only reads them.
SensorWrap::SensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SensorWrap>(info) {
  Napi::Object opts = info[0].As<Napi::Object>();
  program_config_ = {
      .self_tgid = static_cast<uint32_t>(getpid()),
      .ring_bytes = u32_option(opts, "ringBytes"),
      .emit_denied = opts.Get("emitDenied").ToBoolean().Value(),
      .enforce = opts.Get("enforce").ToBoolean().Value(),
      .capture_bytes = u32_option(opts, "captureBytes"),
      .fixup_copies = u32_option(opts, "fixupCopies"),
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
}

// start(onBatch): onBatch(buffer, records) is called once per batch until stop()'s promise
// resolves.
Napi::Value SensorWrap::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (session_) throw Napi::Error::New(env, "wxwatch: a native sensor starts once");
  Napi::Function on_batch = info[0].As<Napi::Function>();
  auto session = std::make_shared<Session>();
  // Each mode that fails to load or attach is reported with why, and the next one is tried.
  Napi::Array fallbacks = Napi::Array::New(env);
  for (size_t i = 0; i < modes_.size() && !session->program; i++) {
    program_config_.mode = modes_[i];
    try {
      session->program = std::make_unique<BpfProgram>(program_config_);
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
  Session* s = session.get();
  // The finaliser owns this reference: the session outlives the wrapper if teardown collects it
  // first.
  s->tsfn = BatchTsfn::New(env, on_batch, "wxwatch batches", kMaxQueuedBatches, 1, s, Finalize,
                           new std::shared_ptr<Session>(session));
  try {
    BpfProgram* program = s->program.get();
    s->drainer = std::make_unique<RingDrainer>(
        s->program->ring_fd(), drain_config_, [s](Batch* batch) { s->deliver(batch); },
        [program](bool final) { program->flush_summaries(final); });
  } catch (const std::system_error& e) {
    s->program.reset();
    s->tsfn.Release();  // the finaliser finds no drainer and frees the rest
    throw to_js_error(env, e, "drain");
  }
  session_ = session;

  Napi::Object result = Napi::Object::New(env);
  result.Set("mode", hook_mode_name(program_config_.mode));
  result.Set("fallbacks", fallbacks);
  result.Set("ringMapId", s->program->ring_map_id());
  Napi::Array ids = Napi::Array::New(env);
  for (uint32_t id : s->program->program_ids()) ids.Set(ids.Length(), id);
  result.Set("programIds", ids);
  Napi::Array names = Napi::Array::New(env);
  for (const std::string& name : s->program->program_names()) names.Set(names.Length(), name);
  result.Set("programNames", names);
  result.Set("object", s->program->lts() ? "lts" : "main");
  return result;
}

// Detach first, then drain: every record the programs wrote is read before the books close.
// Resolves once the last batch has been delivered and everything is freed.
Napi::Value SensorWrap::Stop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Session* s = session_.get();
  if (!s || s->ended || s->stopped) {
    // Never started, already ended, or already stopping (the first caller's promise settles it).
    auto done = Napi::Promise::Deferred::New(env);
    done.Resolve(env.Undefined());
    return done.Promise();
  }
  napi_value promise;
  if (napi_create_promise(env, &s->stopped, &promise) != napi_ok) throw Napi::Error::New(env, "wxwatch: stop");
  s->program->detach();
  s->drainer->request_stop();
  return Napi::Value(env, promise);
}

// detach(): no program runs anew from here; the drainer keeps reading what they wrote (close()
// waits for the runs a preemptible kernel may still have in progress, then stops).
void SensorWrap::Detach(const Napi::CallbackInfo& info) {
  Session* s = session_.get();
  if (s && s->program && !s->ended) s->program->detach();
}

// setFilters(filters, filterConfig): replaces the listed kinds' entries while running. (Before
// start, filters come with the constructor's options and are applied between load and attach.)
void SensorWrap::SetFilters(const Napi::CallbackInfo& info) {
  Session* s = session_.get();
  if (!s || !s->program) throw Napi::Error::New(info.Env(), "wxwatch: setFilters on a sensor that is not running");
  std::vector<FilterSet> sets = parse_filters(info[0].As<Napi::Array>());
  FilterConfig config = parse_filter_config(info[1].As<Napi::Object>());
  try {
    s->program->set_filters(sets, config);
  } catch (const BpfError& e) {
    throw to_js_error(info.Env(), e);
  }
}

// probe(): forks a child that makes one page RW→RX and exits; returns its pid. The child waits
// on a pipe until the kernel side knows its pid, and does only async-signal-safe system calls
// (this process has threads).
// The self-check page's marker, as PROBE_MARKER in lib/self-check.ts (keep them in step).
constexpr char kProbeMarker[] = "wxwatch self-check page: not code";
constexpr size_t kProbeMarkerAt = 8;

Napi::Value SensorWrap::Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Session* s = session_.get();
  if (!s || !s->program) throw Napi::Error::New(env, "wxwatch: probe on a sensor that is not running");
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
    // A fixed page (ret, the marker, zeros): other wxwatch sensors recognise it by its SHA-256.
    static_cast<unsigned char*>(page)[0] = 0xc3;  // ret
    std::memcpy(static_cast<unsigned char*>(page) + kProbeMarkerAt, kProbeMarker, sizeof kProbeMarker - 1);
    _exit(mprotect(page, 4096, PROT_READ | PROT_EXEC) ? 4 : 0);
  }
  close(go[0]);
  s->program->set_probe_tgid(static_cast<uint32_t>(child));
  [[maybe_unused]] ssize_t n = write(go[1], "x", 1);
  close(go[1]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  s->program->set_probe_tgid(0);  // its records were written during its mprotect, before it exited
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Napi::Error::New(env, "wxwatch: self-check: the helper process could not make a page executable");
  return Napi::Number::New(env, child);
}

void SensorWrap::Session::deliver(Batch* batch) {
  const bool last = batch->last;
  // Refused once the function is closing (environment teardown): nobody will read the batch,
  // and the TSFN must not be called again.
  if (closing.load() || tsfn.BlockingCall(batch) != napi_ok) {
    closing.store(true);
    release(batch);
    return;
  }
  if (last) tsfn.Release();  // the finaliser runs once this call has reached JS
}

// Runs on the JS thread. Only the C API is used, and failures are ignored, not thrown: during a
// worker's termination every call into V8 fails, and node-addon-api would turn a failure into
// a fatal error. The batch always goes back to its pool.
void SensorWrap::CallJs(Napi::Env env, Napi::Function callback, Session*, Batch* batch) {
  if (!env || !callback) {  // the environment is going away: only free
    release(batch);
    return;
  }
  napi_env e = env;
  const uint32_t records = batch->records;
  napi_value buffer = nullptr;
  if (records == 0) {
    napi_get_null(e, &buffer);
    release(batch);
  } else if (addon_pinned() && lend(batch)) {
    buffer = lent_view_of(batch);  // the batch is V8's now
  } else {
    buffer = copy_of(e, batch);
    release(batch);
  }
  napi_value argv[2] = {buffer, nullptr};
  if (!buffer || napi_create_uint32(e, records, &argv[1]) != napi_ok) return;  // V8 refused: ending
  napi_value recv;
  napi_get_undefined(e, &recv);
  // onBatch catches its own exceptions; a status other than ok means the environment is ending.
  napi_call_function(e, recv, callback, 2, argv, nullptr);
}

// The end of a session, on the JS thread: after the drainer's last batch (normal stop) or when
// Node closes the TSFN during environment teardown.
void SensorWrap::Finalize(Napi::Env env, std::shared_ptr<Session>* owner, Session* s) {
  if (s->program) s->program->detach();  // teardown without stop(): nothing new comes in
  if (s->drainer) {
    s->drainer->request_stop();
    s->drainer->join();  // its calls into the TSFN return at once now
    s->final_drain = s->drainer->stats();
    s->drainer.reset();
  }
  if (s->program) {
    s->final_counters = s->program->counters();
    s->final_misses = s->program->recursion_misses();
  }
  s->program.reset();  // detaches every program and frees the skeleton
  s->ended = true;
  if (s->stopped) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, s->stopped, undefined);  // fails only during teardown: ignored
    s->stopped = nullptr;
  }
  delete owner;
}

Napi::Value SensorWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Session* s = session_.get();
  Counters c{};
  DrainStats d{};
  uint64_t misses = 0;
  if (s) {
    c = s->program ? s->program->counters() : s->final_counters;
    misses = s->program ? s->program->recursion_misses() : s->final_misses;
    d = s->drainer ? s->drainer->stats() : s->final_drain;
  }
  Napi::Object out = Napi::Object::New(env);
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  out.Set("seen", num(c[WX_CNT_SEEN]));
  out.Set("lost", num(c[WX_CNT_LOST]));
  out.Set("filtered", num(c[WX_CNT_FILTERED]));
  out.Set("suppressed", num(c[WX_CNT_SUPPRESSED]));
  out.Set("vmaTruncated", num(c[WX_CNT_VMA_TRUNCATED]));
  out.Set("noState", num(c[WX_CNT_NO_STATE]));
  out.Set("degraded", num(c[WX_CNT_DEGRADED]));
  out.Set("codeSkipped", num(c[WX_CNT_CODE_SKIPPED]));
  out.Set("lostBusy", num(c[WX_CNT_LOST_BUSY]));
  out.Set("throttled", num(c[WX_CNT_THROTTLED]));
  out.Set("unwalked", num(c[WX_CNT_UNWALKED]));
  out.Set("missedRuns", num(misses));
  out.Set("drained", num(d.records));
  out.Set("prefiltered", num(d.prefiltered));
  out.Set("malformed", num(d.malformed));
  out.Set("batches", num(d.batches));
  out.Set("lentBatches", num(d.lent));
  out.Set("copiedBatches", num(d.copied));
  return out;
}

}  // namespace wxwatch
