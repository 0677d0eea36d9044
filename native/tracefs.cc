#include "tracefs.h"

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace wxwatch {

namespace {
constexpr const char* kTracefs = "/sys/kernel/tracing";
// libbpf looks here first when debugfs is mounted.
constexpr const char* kDebugfsTracing = "/sys/kernel/debug/tracing/events";
}  // namespace

bool ensure_tracefs() {
  if (access("/sys/kernel/tracing/events", F_OK) == 0 || access(kDebugfsTracing, F_OK) == 0)
    return false;
  if (mount("tracefs", kTracefs, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    throw std::system_error(errno, std::generic_category(),
                            "wxwatch: tracefs is not mounted and mounting it at /sys/kernel/tracing failed");
  return true;
}

}  // namespace wxwatch
