#include "ring_drainer.h"

#include <bpf/libbpf.h>
// Node's own OpenSSL: an addon resolves these against the node binary's exports.
#include <openssl/evp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <system_error>

#include "wxwatch.h"

namespace wxwatch {
namespace {

// The digest as lowercase hex, ASCII: JavaScript takes it as a string without converting bytes.
constexpr size_t kDigestBytes = 64;

// The native queue's depth (sensor_wrap.cc), the batch being filled, one being handed over, and
// those lent to JS: a storm reuses mapped memory instead of faulting in new pages.
constexpr size_t kSpareBatches = 18 + kLentBatches;

// Counters only this thread writes (others read them): a plain store, no locked add per record.
void bump(std::atomic<uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// Every record takes at least the fixed part, so a batch holds at most this many.
size_t max_records(size_t batch_bytes) { return batch_bytes / WX_RECORD_FIXED_SIZE + 1; }

// The code follows the record's strings (bpf/wxwatch.h: uts, path, exe, cgroup, target exe).
const uint8_t* code_of(const wx_record* rec) {
  return reinterpret_cast<const uint8_t*>(rec) + sizeof(wx_record) + rec->uts_len + rec->path_len + rec->exe_len +
         rec->cgroup_len + rec->target_exe_len;
}

}  // namespace

RingDrainer::RingDrainer(int ring_fd, const DrainConfig& config, Sink sink, Tick tick)
    : config_(config), sink_(std::move(sink)), tick_(std::move(tick)) {
  ring_ = ring_buffer__new(ring_fd, on_record, this, nullptr);
  if (!ring_) throw std::system_error(errno, std::generic_category(), "wxwatch: ring_buffer__new");
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ring_ev{.events = EPOLLIN, .data = {.u32 = 0}};
  epoll_event stop_ev{.events = EPOLLIN, .data = {.u32 = 1}};
  if (epoll_fd_ < 0 || stop_fd_ < 0 ||
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, ring_buffer__epoll_fd(ring_), &ring_ev) ||
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &stop_ev)) {
    int err = errno;
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (stop_fd_ >= 0) close(stop_fd_);
    ring_buffer__free(ring_);
    throw std::system_error(err, std::generic_category(), "wxwatch: drainer epoll set-up");
  }
  sha256_ = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  md_ctx_ = EVP_MD_CTX_new();
  if (!sha256_ || !md_ctx_) {
    EVP_MD_free(sha256_);
    EVP_MD_CTX_free(md_ctx_);
    close(epoll_fd_);
    close(stop_fd_);
    ring_buffer__free(ring_);
    throw std::system_error(ENOMEM, std::generic_category(), "wxwatch: OpenSSL SHA-256");
  }
  // Spare buffers: as many as can wait for JS or be lent to it.
  // Each has room for its records and, past them, a digest per record.
  pool_ = BatchPool::create(config.batch_bytes + max_records(config.batch_bytes) * kDigestBytes, kSpareBatches);
  current_ = pool_->take();
  digests_ = current_->data + config_.batch_bytes;
  thread_ = std::thread(&RingDrainer::run, this);
}

RingDrainer::~RingDrainer() {
  request_stop();
  join();
  release(current_);
  EVP_MD_CTX_free(md_ctx_);
  EVP_MD_free(sha256_);
  ring_buffer__free(ring_);
  close(epoll_fd_);
  close(stop_fd_);
}

void RingDrainer::request_stop() {
  uint64_t one = 1;
  // An eventfd write cannot fail short of counter overflow; a repeated stop is harmless.
  [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof one);
}

void RingDrainer::join() {
  if (thread_.joinable()) thread_.join();
}

DrainStats RingDrainer::stats() const {
  return {records_.load(std::memory_order_relaxed), prefiltered_.load(std::memory_order_relaxed),
          malformed_.load(std::memory_order_relaxed), batches_.load(std::memory_order_relaxed), pool_->lent(),
          pool_->copied()};
}

void RingDrainer::hand_over(bool last) {
  if (current_->records == 0 && !last) return;
  Batch* full = current_;
  full->last = last;
  // The digests move up behind the records: one buffer, no gap, for JS to read. A batch with
  // none has no table (JS reads every digest as none).
  if (hashed_) {
    const size_t table = size_t(full->records) * kDigestBytes;
    std::memmove(full->data + full->bytes, digests_, table);
    full->bytes += table;
  }
  hashed_ = false;
  current_ = last ? nullptr : pool_->take();
  digests_ = current_ ? current_->data + config_.batch_bytes : nullptr;
  bump(batches_);
  sink_(full);
}

// A record's own size fits in what the ring holds for it, and its strings fit in its size.
bool RingDrainer::well_formed(const void* data, size_t size) {
  if (size < sizeof(wx_record) || size > WX_RECORD_MAX_SIZE) return false;
  const auto* rec = static_cast<const wx_record*>(data);
  if (rec->size < sizeof(wx_record) || rec->size > size || rec->alert > 31) return false;
  if (rec->uts_len > WX_UTS_LEN || rec->path_len > WX_PATH_MAX || rec->exe_len > WX_PATH_MAX ||
      rec->cgroup_len > 2 * WX_CGROUP_NAME_MAX || rec->target_exe_len > WX_PATH_MAX || rec->code_len > WX_CODE_MAX)
    return false;
  return code_of(rec) + rec->code_len <= static_cast<const uint8_t*>(data) + rec->size;
}

int RingDrainer::on_record(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingDrainer*>(ctx);
  auto* rec = static_cast<const wx_record*>(data);
  bump(self->records_);
  if (!well_formed(data, size)) {
    bump(self->malformed_);
    return 0;
  }
  if (!(self->config_.alert_mask & (1u << rec->alert)) && !(rec->flags & self->config_.flag_mask)) {
    bump(self->prefiltered_);
    return 0;
  }
  // Only the record's own bytes travel; the ring's padding does not.
  const size_t padded = (rec->size + WX_RECORD_ALIGN - 1) & ~size_t(WX_RECORD_ALIGN - 1);
  if (self->current_->bytes + padded > self->config_.batch_bytes) self->hand_over(false);
  std::memcpy(self->current_->data + self->current_->bytes, data, rec->size);
  std::memset(self->current_->data + self->current_->bytes + rec->size, 0, padded - rec->size);
  if (rec->code_len) {
    self->digest(code_of(rec), rec->code_len, self->digests_ + size_t(self->current_->records) * kDigestBytes);
    self->hashed_ = true;
  } else {
    self->digests_[size_t(self->current_->records) * kDigestBytes] = 0;  // none (a 0 first byte)
  }
  self->current_->bytes += padded;
  self->current_->records++;
  return 0;
}

void RingDrainer::digest(const uint8_t* code, size_t len, uint8_t* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  // A first byte 0 reads as "no hash" (lib/batch-view.ts): a failure, never a digest of
  // something else.
  if (!len || !EVP_DigestInit_ex2(md_ctx_, sha256_, nullptr) || !EVP_DigestUpdate(md_ctx_, code, len) ||
      !EVP_DigestFinal_ex(md_ctx_, md, &n) || n * 2 != kDigestBytes) {
    out[0] = 0;
    return;
  }
  for (unsigned int i = 0; i < n; i++) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 0xf];
  }
}

// Fewer records than this in a pass after a quiet one: latency matters more than batching.
constexpr int kLightPass = 256;
// How long a batch collects records while they keep coming.
constexpr std::chrono::milliseconds kCoalesce{4};
// After this long without records, spare batches beyond kQuietSpares are unmapped.
constexpr std::chrono::seconds kQuietAfter{2};
constexpr size_t kQuietSpares = 4;

void RingDrainer::run() {
  using Clock = std::chrono::steady_clock;
  const auto max_age = std::chrono::milliseconds(config_.interval_ms);
  Clock::time_point batch_began{};
  Clock::time_point ticked = Clock::now();
  bool streaming = false;  // the previous pass found records
  Clock::time_point last_record = Clock::now();
  bool trimmed = true;
  epoll_event events[2];
  for (bool stopping = false; !stopping;) {
    // The kernel submits without waking us unless the ring is filling, so a timeout here is the
    // normal way a pass starts; a wakeup or the stop eventfd starts one sooner.
    int n = epoll_wait(epoll_fd_, events, 2, config_.interval_ms);
    for (int i = 0; i < n; i++)
      if (events[i].data.u32 == 1) stopping = true;
    if (tick_ && (stopping || Clock::now() - ticked >= std::chrono::milliseconds(100))) {
      tick_(stopping);
      ticked = Clock::now();
    }
    const bool was_empty = current_->records == 0;
    const int consumed = ring_buffer__consume(ring_);
    if (was_empty) batch_began = Clock::now();
    // Records after a quiet pass ship at once (latency); while they keep coming, a batch
    // collects them for up to kCoalesce (one call into JS per batch, and a stream makes few).
    const bool sparse = !streaming && consumed < kLightPass;
    streaming = consumed > 0;
    if (consumed > 0) {
      last_record = Clock::now();
      trimmed = false;
    } else if (!trimmed && Clock::now() - last_record >= kQuietAfter) {
      pool_->trim(kQuietSpares);
      trimmed = true;
    }
    const auto age = Clock::now() - batch_began;
    if (stopping || sparse || age >= std::max<Clock::duration>(max_age, kCoalesce)) hand_over(stopping);
  }
}
}  // namespace wxwatch
