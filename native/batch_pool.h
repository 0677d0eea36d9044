// Batch buffers, recycled: a buffer the JS thread has copied goes back to the pool instead of to
// the allocator, so the drainer writes into memory that is already mapped and faulted in.
// Thread-safe; every batch keeps its pool alive, so a buffer given back after the sensor is gone
// still has somewhere to go.
#pragma once

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

class BatchPool : public std::enable_shared_from_this<BatchPool> {
 public:
  static std::shared_ptr<BatchPool> create(size_t capacity, size_t keep);
  ~BatchPool();
  // An empty batch: a recycled one if any, else a new one. Throws std::bad_alloc.
  Batch* take();
  size_t capacity() const { return capacity_; }

 private:
  friend void release(Batch* batch);
  BatchPool(size_t capacity, size_t keep) : capacity_(capacity), keep_(keep) {}
  void give(Batch* batch);

  const size_t capacity_;
  const size_t keep_;  // spare batches kept at most
  std::mutex mutex_;
  std::vector<Batch*> spare_;
};

}  // namespace wxwatch
