#include "batch_pool.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace wxwatch {

std::shared_ptr<BatchPool> BatchPool::create(size_t capacity, size_t keep) {
  return std::shared_ptr<BatchPool>(new BatchPool(capacity, keep));
}

BatchPool::~BatchPool() {
  for (Batch* b : spare_) {
    std::free(b->data);
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
  b->data = static_cast<uint8_t*>(std::malloc(capacity_));
  if (!b->data) {
    delete b;
    throw std::bad_alloc();
  }
  b->pool = shared_from_this();
  return b;
}

Batch* BatchPool::compact(Batch* b) {
  auto* c = new (std::nothrow) Batch;
  uint8_t* data = c ? static_cast<uint8_t*>(std::malloc(b->bytes ? b->bytes : 1)) : nullptr;
  if (!data) {
    delete c;
    return b;
  }
  std::memcpy(data, b->data, b->bytes);
  c->data = data;
  c->bytes = b->bytes;
  c->records = b->records;
  c->last = b->last;
  c->compact = true;
  c->pool = b->pool;
  release(b);
  return c;
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
  std::free(b->data);
  delete b;
}

void release(Batch* batch) {
  if (!batch) return;
  if (batch->compact) {
    std::free(batch->data);
    delete batch;
    return;
  }
  // Keep the pool alive across give(): the batch's own reference may be the last one.
  std::shared_ptr<BatchPool> pool = std::move(batch->pool);
  pool->give(batch);
}

}  // namespace wxwatch
