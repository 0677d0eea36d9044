// Module entry: the native sensor class, the record layout from the shared header (so that the
// TypeScript decoder can check its offsets against it), the clock offset for timestamps, the
// kernel probes that say before any load what this kernel lacks (lib/kernel-features.ts), and
// the pipe size the CLI's output asks for (Node has no F_SETPIPE_SZ).
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <napi.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <string>

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

// Whether struct/union `type_id` has a member `name`, looking into anonymous members too.
bool has_member(const btf* b, int type_id, const std::string& name, int depth = 0) {
  const btf_type* t = btf__type_by_id(b, type_id);
  if (!t || !(btf_is_struct(t) || btf_is_union(t)) || depth > 8) return false;
  const btf_member* m = btf_members(t);
  for (int i = 0; i < btf_vlen(t); i++, m++) {
    const char* n = btf__name_by_offset(b, m->name_off);
    if (n && name == n) return true;
    if (n && !*n) {
      int inner = btf__resolve_type(b, m->type);
      if (inner > 0 && has_member(b, inner, name, depth + 1)) return true;
    }
  }
  return false;
}

bool has_enum_value(const btf* b, const std::string& enum_name, const std::string& value) {
  for (int kind : {int(BTF_KIND_ENUM), int(BTF_KIND_ENUM64)}) {
    int id = btf__find_by_name_kind(b, enum_name.c_str(), kind);
    if (id <= 0) continue;
    const btf_type* t = btf__type_by_id(b, id);
    for (int i = 0; i < btf_vlen(t); i++) {
      const char* n = btf__name_by_offset(b, btf_is_enum(t) ? btf_enum(t)[i].name_off : btf_enum64(t)[i].name_off);
      if (n && value == n) return true;
    }
  }
  return false;
}

// Whether function `name` takes one of the parameter counts in `counts` ("6,7").
bool func_params_in(const btf* b, const std::string& name, const std::string& counts) {
  int id = btf__find_by_name_kind(b, name.c_str(), BTF_KIND_FUNC);
  if (id <= 0) return false;
  const btf_type* proto = btf__type_by_id(b, btf__type_by_id(b, id)->type);
  if (!proto || !btf_is_func_proto(proto)) return false;
  const std::string n = std::to_string(btf_vlen(proto));
  size_t at = 0;
  while (at <= counts.size()) {
    size_t end = counts.find(',', at);
    if (end == std::string::npos) end = counts.size();
    if (counts.compare(at, end - at, n) == 0) return true;
    at = end + 1;
  }
  return false;
}

// One query against the kernel's BTF: "func:NAME", "typedef:NAME", "struct:NAME",
// "member:STRUCT.FIELD", "enum:ENUM.VALUE" or "params:FUNC.N[,N…]" (its parameter count).
bool btf_has(const btf* b, const std::string& q) {
  const size_t colon = q.find(':');
  if (colon == std::string::npos) return false;
  const std::string kind = q.substr(0, colon), what = q.substr(colon + 1);
  const size_t dot = what.find('.');
  if (kind == "func") return btf__find_by_name_kind(b, what.c_str(), BTF_KIND_FUNC) > 0;
  if (kind == "typedef") return btf__find_by_name_kind(b, what.c_str(), BTF_KIND_TYPEDEF) > 0;
  if (kind == "struct") return btf__find_by_name_kind(b, what.c_str(), BTF_KIND_STRUCT) > 0;
  if (dot == std::string::npos) return false;
  if (kind == "member") {
    int id = btf__find_by_name_kind(b, what.substr(0, dot).c_str(), BTF_KIND_STRUCT);
    return id > 0 && has_member(b, id, what.substr(dot + 1));
  }
  if (kind == "enum") return has_enum_value(b, what.substr(0, dot), what.substr(dot + 1));
  if (kind == "params") return func_params_in(b, what.substr(0, dot), what.substr(dot + 1));
  return false;
}

// kernelBtf(queries): the queries this kernel's BTF answers yes to, as booleans in order; throws
// if the BTF cannot be read. Nothing is loaded into the kernel.
Napi::Value kernel_btf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "kernelBtf(queries: string[])");
  // A missing BTF is reported here, not printed by libbpf.
  libbpf_print_fn_t previous = libbpf_set_print(nullptr);
  btf* vmlinux = btf__load_vmlinux_btf();
  const int err = errno;
  libbpf_set_print(previous);
  if (!vmlinux) {
    throw Napi::Error::New(env, std::string("cannot read the kernel BTF: ") + std::strerror(err));
  }
  Napi::Array queries = info[0].As<Napi::Array>();
  Napi::Array out = Napi::Array::New(env, queries.Length());
  for (uint32_t i = 0; i < queries.Length(); i++) {
    Napi::Value q = queries.Get(i);
    out.Set(i, Napi::Boolean::New(env, q.IsString() && btf_has(vmlinux, q.As<Napi::String>().Utf8Value())));
  }
  btf__free(vmlinux);
  return out;
}

// probeMapType(name): 1 if the kernel creates such a map, 0 if not, -errno if it could not tell
// (no privilege). Creates a tiny map and closes it.
Napi::Value probe_map_type(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  bpf_map_type type;
  if (name == "ringbuf") type = BPF_MAP_TYPE_RINGBUF;
  else if (name == "task_storage") type = BPF_MAP_TYPE_TASK_STORAGE;
  else throw Napi::TypeError::New(env, "probeMapType: ringbuf or task_storage");
  libbpf_print_fn_t previous = libbpf_set_print(nullptr);
  const int verdict = libbpf_probe_bpf_map_type(type, nullptr);
  libbpf_set_print(previous);
  return Napi::Number::New(env, verdict);
}

}  // namespace
}  // namespace wxwatch

static Napi::Object InitWxwatch(Napi::Env env, Napi::Object exports) {
  using namespace wxwatch;
  exports.Set("NativeSensor", SensorWrap::Define(env));
  exports.Set("layout", record_layout(env));
  exports.Set("bootToEpochNs", Napi::Function::New(env, boot_to_epoch_ns, "bootToEpochNs"));
  exports.Set("growPipe", Napi::Function::New(env, grow_pipe, "growPipe"));
  exports.Set("kernelBtf", Napi::Function::New(env, kernel_btf, "kernelBtf"));
  exports.Set("probeMapType", Napi::Function::New(env, probe_map_type, "probeMapType"));
  return exports;
}

NODE_API_MODULE(wxwatch, InitWxwatch)
