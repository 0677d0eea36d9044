// Drains the BPF ring buffer on its own thread into batches of records, and hashes each record's
// captured code there (SHA-256), off the JS thread.
//
// A batch handed over is the records back to back (each padded to WX_RECORD_ALIGN), then one
// 64-byte digest per record, in record order: the SHA-256 of its code as lowercase hex (ASCII),
// or 64 zero bytes when the record carries no code byte (nothing was read: nothing to hash).
//
// Threading contract: the constructor and stop() run on the JS thread; the sink runs on the
// drainer thread. Every batch handed to the sink is owned by the sink from then on; it gives it
// back with release(). The last batch the sink ever receives has last == true (it may hold
// records too).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "batch_pool.h"

struct ring_buffer;
struct evp_md_st;
struct evp_md_ctx_st;

namespace wxwatch {

struct DrainConfig {
  uint32_t alert_mask;   // bit N set: records with alert N pass the prefilter
  uint32_t flag_mask;    // records with any of these WX_F_* flags pass too
  size_t batch_bytes;    // a batch is handed over when its records fill this...
  int interval_ms;       // ...or at the end of a drain pass; passes run at least this often
};

struct DrainStats {
  uint64_t records;      // read from the ring
  uint64_t prefiltered;  // dropped by the alert-kind prefilter
  uint64_t malformed;    // failed validation (sizes, string lengths): counted and skipped
  uint64_t batches;      // handed to the sink
  uint64_t lent;         // batches JS holds as its ArrayBuffers' memory now (kLentBatches at most)
  uint64_t copied;       // batches JS got as a copy, kLentBatches being out
};

class RingDrainer {
 public:
  using Sink = std::function<void(Batch*)>;
  // Called on the drainer thread every 100 ms, and once more (final) before the last pass.
  using Tick = std::function<void(bool final)>;

  RingDrainer(int ring_fd, const DrainConfig& config, Sink sink, Tick tick = nullptr);
  ~RingDrainer();
  RingDrainer(const RingDrainer&) = delete;
  RingDrainer& operator=(const RingDrainer&) = delete;

  // Asks the thread to drain once more, hand over the last batch and exit. Does not wait.
  void request_stop();
  // Waits for the thread to exit.
  void join();
  DrainStats stats() const;

 private:
  static int on_record(void* ctx, void* data, size_t size);
  // The one place records are validated: JS reads only records that passed.
  static bool well_formed(const void* data, size_t size);
  void run();
  void hand_over(bool last);
  // Writes the SHA-256 of `len` code bytes to out (64 hex digits); zeros if len is 0 or it fails.
  void digest(const uint8_t* code, size_t len, uint8_t* out);

  const DrainConfig config_;
  const Sink sink_;
  const Tick tick_;
  ring_buffer* ring_ = nullptr;
  int epoll_fd_ = -1;
  int stop_fd_ = -1;
  std::shared_ptr<BatchPool> pool_;
  Batch* current_ = nullptr;  // drainer thread only
  // Digests of current_'s records, in order, until hand-over moves them behind the records.
  uint8_t* digests_ = nullptr;  // inside current_'s buffer, past batch_bytes
  bool hashed_ = false;          // some record of current_ has a digest
  evp_md_st* sha256_ = nullptr;      // fetched once (OpenSSL 3: no lookup per record)
  evp_md_ctx_st* md_ctx_ = nullptr;  // drainer thread only
  std::atomic<uint64_t> records_{0}, prefiltered_{0}, malformed_{0}, batches_{0};
  std::thread thread_;
};

}  // namespace wxwatch
