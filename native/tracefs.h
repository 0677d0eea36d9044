// Syscall tracepoints attach through tracefs, which a fresh machine may not have mounted.
#pragma once

namespace wxwatch {

// Mounts tracefs at /sys/kernel/tracing unless libbpf can already find it there or under
// debugfs. Returns true if it mounted it; throws std::system_error if it could not.
bool ensure_tracefs();

}  // namespace wxwatch
