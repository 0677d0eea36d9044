// Module entry: the native sensor class, the record layout from the shared header (so that the
// TypeScript decoder can check its offsets against it), the clock offset for timestamps, and
// the pipe size the CLI's output asks for (Node has no F_SETPIPE_SZ).
#include <napi.h>

#include <fcntl.h>

#include <cstddef>
#include <ctime>

#include "sensor_wrap.h"
#include "wxwatch.h"

namespace wxwatch {
namespace {

Napi::Object record_layout(Napi::Env env) {
  Napi::Object offsets = Napi::Object::New(env);
#define WX_FIELD(name) offsets.Set(#name, Napi::Number::New(env, offsetof(wx_record, name)))
  WX_FIELD(size);
  WX_FIELD(alert);
  WX_FIELD(ts_boot_ns);
  WX_FIELD(thread_start_boot_ns);
  WX_FIELD(addr);
  WX_FIELD(len);
  WX_FIELD(vma_start);
  WX_FIELD(vma_end);
  WX_FIELD(prev_vm_flags);
  WX_FIELD(new_vm_flags);
  WX_FIELD(inode);
  WX_FIELD(ctime_ns);
  WX_FIELD(cgroup_id);
  WX_FIELD(ret);
  WX_FIELD(prot);
  WX_FIELD(dev);
  WX_FIELD(host_pid);
  WX_FIELD(host_tid);
  WX_FIELD(host_ppid);
  WX_FIELD(ns_pid);
  WX_FIELD(ns_tid);
  WX_FIELD(ns_ppid);
  WX_FIELD(uid);
  WX_FIELD(mnt_ns);
  WX_FIELD(pid_ns);
  WX_FIELD(cpu);
  WX_FIELD(writable_maps);
  WX_FIELD(syscall);
  WX_FIELD(region);
  WX_FIELD(flags);
  WX_FIELD(uts_len);
  WX_FIELD(path_len);
  WX_FIELD(exe_len);
  WX_FIELD(cgroup_len);
  WX_FIELD(comm);
  WX_FIELD(code_len);
  WX_FIELD(code_addr);
  WX_FIELD(code_window);
  WX_FIELD(code_missing);
  WX_FIELD(leader_start_boot_ns);
  WX_FIELD(parent_start_boot_ns);
  WX_FIELD(target_start_boot_ns);
  WX_FIELD(alias_start);
  WX_FIELD(alias_end);
  WX_FIELD(target_pid);
  WX_FIELD(alias_pid);
  WX_FIELD(summary_count);
  WX_FIELD(event);
  WX_FIELD(route);
  WX_FIELD(rule);
  WX_FIELD(target_exe_len);
  WX_FIELD(target_comm);
#undef WX_FIELD
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("fixedSize", Napi::Number::New(env, sizeof(wx_record)));
  layout.Set("align", Napi::Number::New(env, WX_RECORD_ALIGN));
  layout.Set("maxSize", Napi::Number::New(env, WX_RECORD_MAX_SIZE));
  layout.Set("commLen", Napi::Number::New(env, WX_COMM_LEN));
  layout.Set("offsets", offsets);
  return layout;
}

// Records carry CLOCK_BOOTTIME; adding this gives epoch nanoseconds. Read per call, so that a
// caller can follow wall-clock steps.
Napi::Value boot_to_epoch_ns(const Napi::CallbackInfo& info) {
  timespec real{}, boot{};
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_BOOTTIME, &boot);
  int64_t offset = (int64_t(real.tv_sec) - boot.tv_sec) * 1000000000LL + (real.tv_nsec - boot.tv_nsec);
  return Napi::BigInt::New(info.Env(), offset);
}

// growPipe(fd, bytes): asks for a pipe of at least `bytes` (F_SETPIPE_SZ); returns the capacity
// it has (unchanged where the kernel refuses a larger one), or -1 when fd is not a pipe.
Napi::Value grow_pipe(const Napi::CallbackInfo& info) {
  const int fd = info[0].As<Napi::Number>().Int32Value();
  const int want = info[1].As<Napi::Number>().Int32Value();
  const int current = fcntl(fd, F_GETPIPE_SZ);
  if (current < 0) return Napi::Number::New(info.Env(), -1);
  if (current >= want) return Napi::Number::New(info.Env(), current);
  const int got = fcntl(fd, F_SETPIPE_SZ, want);
  return Napi::Number::New(info.Env(), got < 0 ? current : got);
}

}  // namespace
}  // namespace wxwatch

static Napi::Object InitWxwatch(Napi::Env env, Napi::Object exports) {
  using namespace wxwatch;
  exports.Set("NativeSensor", SensorWrap::Define(env));
  exports.Set("layout", record_layout(env));
  exports.Set("bootToEpochNs", Napi::Function::New(env, boot_to_epoch_ns, "bootToEpochNs"));
  exports.Set("growPipe", Napi::Function::New(env, grow_pipe, "growPipe"));
  return exports;
}

NODE_API_MODULE(wxwatch, InitWxwatch)
