#include <ATen/ATen.h>

#include <mutex>
#include <vector>

// Buffers of the loops that outlive a call's step loop (gate activations, their gradients) from a
// small pool. glibc maps every block above 32 MiB (its largest threshold) fresh from the kernel
// and unmaps it when freed, so each call would fault such a buffer in page by page again: at
// batch 128, 100 steps, hidden 256 an LSTM's forward+backward took 39,000 page faults. A pooled
// buffer is handed out again once nothing but the pool holds its storage, to a request of at
// most its size and at least half of it; the pool keeps at most POOL_BYTES, and what it cannot
// keep is allocated as usual. Smaller buffers come from glibc's heap anyway (rnnlab.runtime).
// (Turning glibc's mapping off instead made the heap grow without bound under varying shapes.)

namespace {
constexpr int64_t POOL_FROM = int64_t{32} << 20, POOL_BYTES = int64_t{512} << 20;
}  // namespace

at::Tensor pooled_empty(at::IntArrayRef shape, const at::TensorOptions& options) {
  int64_t n = 1;
  for (const int64_t s : shape) n *= s;
  const int64_t item = static_cast<int64_t>(options.dtype().itemsize());
  if (n * item < POOL_FROM || !options.device().is_cpu()) return at::empty(shape, options);
  static std::mutex lock;
  static std::vector<at::Tensor> pool;  // flat buffers
  std::lock_guard<std::mutex> guard(lock);
  const auto idle = [](const at::Tensor& t) { return t.use_count() == 1 && t.storage().use_count() == 1; };
  const at::Tensor* best = nullptr;
  for (const at::Tensor& t : pool) {
    const bool fits = t.dtype() == options.dtype() && t.numel() >= n && t.numel() <= 2 * n;
    if (fits && idle(t) && (best == nullptr || t.numel() < best->numel())) best = &t;
  }
  if (best != nullptr) return best->narrow(0, 0, n).view(shape);
  at::Tensor fresh = at::empty({n}, options);
  int64_t held = n * item;
  for (const at::Tensor& t : pool) held += t.numel() * static_cast<int64_t>(t.dtype().itemsize());
  for (auto it = pool.begin(); held > POOL_BYTES && it != pool.end();) {  // drop idle ones, oldest first
    if (idle(*it)) {
      held -= it->numel() * static_cast<int64_t>(it->dtype().itemsize());
      it = pool.erase(it);
    } else {
      ++it;
    }
  }
  if (held <= POOL_BYTES) pool.push_back(fresh);
  return fresh.view(shape);
}
