#include "batch_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <new>

namespace wxwatch {
namespace {

// Batch buffers come straight from mmap, not malloc: they are taken on the drainer thread and
// given back on the JS thread, and glibc's per-thread arenas keep such memory once grown. A
// mapping goes back to the kernel the moment it is unmapped.
uint8_t* map_bytes(size_t bytes) {
  void* p = mmap(nullptr, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
}

void unmap_bytes(uint8_t* p, size_t bytes) {
  if (p) munmap(p, bytes ? bytes : 1);
}

}  // namespace

std::shared_ptr<BatchPool> BatchPool::create(size_t capacity, size_t keep) {
  return std::shared_ptr<BatchPool>(new BatchPool(capacity, keep));
}

BatchPool::~BatchPool() {
  for (Batch* b : spare_) {
    unmap_bytes(b->data, capacity_);
    delete b;
  }
}

Batch* BatchPool::take() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!spare_.empty()) {
      Batch* b = spare_.back();
      spare_.pop_back();
      b->pool = shared_from_this();
      return b;
    }
  }
  auto* b = new Batch;
  b->data = map_bytes(capacity_);
  if (!b->data) {
    delete b;
    throw std::bad_alloc();
  }
  b->pool = shared_from_this();
  return b;
}

void BatchPool::trim(size_t keep) {
  std::vector<Batch*> extra;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    while (spare_.size() > keep) {
      extra.push_back(spare_.back());
      spare_.pop_back();
    }
  }
  for (Batch* b : extra) {
    unmap_bytes(b->data, capacity_);
    delete b;
  }
}

void BatchPool::give(Batch* b) {
  b->bytes = 0;
  b->records = 0;
  b->last = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (spare_.size() < keep_) {
      spare_.push_back(b);
      return;
    }
  }
  unmap_bytes(b->data, capacity_);
  delete b;
}

void release(Batch* batch) {
  if (!batch) return;
  // Keep the pool alive across give(): the batch's own reference may be the last one.
  std::shared_ptr<BatchPool> pool = std::move(batch->pool);
  pool->give(batch);
}

bool lend(Batch* batch) {
  std::atomic<size_t>& lent = batch->pool->lent_;
  size_t out = lent.load(std::memory_order_relaxed);
  do {
    if (out >= kLentBatches) {
      batch->pool->copied_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  } while (!lent.compare_exchange_weak(out, out + 1, std::memory_order_relaxed));
  return true;
}

void release_lent(Batch* batch) {
  batch->pool->lent_.fetch_sub(1, std::memory_order_relaxed);
  release(batch);
}

}  // namespace wxwatch
