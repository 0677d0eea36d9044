// Batch buffers, recycled: a buffer JS is done with goes back to the pool instead of to the
// allocator, so the drainer writes into memory that is already mapped and faulted in.
// Thread-safe; every batch keeps its pool alive, so a buffer given back after the sensor is gone
// still has somewhere to go.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace wxwatch {

class BatchPool;

struct Batch {
  uint8_t* data = nullptr;  // capacity bytes; records back to back, each 8-byte aligned
  size_t bytes = 0;
  uint32_t records = 0;
  bool last = false;
  std::shared_ptr<BatchPool> pool;
};

// Returns a batch to its pool (or frees it when the pool is full). Null is fine.
void release(Batch* batch);

// Batches lent to JS at a time, as the memory of its ArrayBuffers; past that a batch is copied.
// Bounds what a consumer that keeps its batches (or a collector that runs late) can pin.
constexpr size_t kLentBatches = 128;

// True if fewer than kLentBatches of this batch's pool are out (the batch now counts as lent),
// false to copy it instead. A lent batch comes back through release_lent() when its buffer is
// collected.
bool lend(Batch* batch);
void release_lent(Batch* batch);

class BatchPool : public std::enable_shared_from_this<BatchPool> {
 public:
  static std::shared_ptr<BatchPool> create(size_t capacity, size_t keep);
  ~BatchPool();
  // An empty batch: a recycled one if any, else a new one. Throws std::bad_alloc.
  Batch* take();
  // Frees spare batches beyond `keep` (a quiet sensor gives back what a storm needed).
  void trim(size_t keep);
  size_t capacity() const { return capacity_; }
  // Batches lent to JS now, and how many were copied because kLentBatches were out.
  size_t lent() const { return lent_.load(std::memory_order_relaxed); }
  uint64_t copied() const { return copied_.load(std::memory_order_relaxed); }

 private:
  friend void release(Batch* batch);
  friend bool lend(Batch* batch);
  friend void release_lent(Batch* batch);
  BatchPool(size_t capacity, size_t keep) : capacity_(capacity), keep_(keep) {}
  void give(Batch* batch);

  const size_t capacity_;
  const size_t keep_;  // spare batches kept at most
  std::mutex mutex_;
  std::vector<Batch*> spare_;
  std::atomic<size_t> lent_{0};
  std::atomic<uint64_t> copied_{0};
};

}  // namespace wxwatch
