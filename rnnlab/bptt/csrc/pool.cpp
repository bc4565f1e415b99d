// Buffers of the loops that outlive a call's step loop (gate activations, their gradients) from a
// small pool. glibc maps every block above 32 MiB (its largest threshold) fresh from the kernel
// and unmaps it when freed, so each call would fault such a buffer in page by page again: at
// batch 128, 100 steps, hidden 256 an LSTM's forward+backward took 39,000 page faults. A pooled
// buffer is handed out again once nothing but the pool holds its storage, to a request of at
// most its size and at least half of it. The pool holds at most POOL_BYTES (dropping the idle
// buffer used longest ago when over it), and lets go of an idle buffer that the last STALE
// requests have not used: shapes that repeat (a training run) keep theirs, shapes that vary from
// call to call do not pile up (with every buffer kept, random lengths and batches held 0.5 GB
// more). What it cannot keep is allocated as usual; smaller buffers come from glibc's heap anyway
// (rnnlab.runtime). (Turning glibc's mapping off instead made the heap grow without bound under
// varying shapes.)

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cstdint>
#include <mutex>
#include <vector>

namespace {

constexpr int64_t POOL_FROM = int64_t{32} << 20, POOL_BYTES = int64_t{512} << 20;
constexpr uint64_t STALE = 8;

struct Held {
  at::Tensor flat;
  uint64_t used;  // the request that last took it
};

int64_t bytes(const at::Tensor& t) { return t.numel() * static_cast<int64_t>(t.dtype().itemsize()); }

bool idle(const at::Tensor& t) { return t.use_count() == 1 && t.storage().use_count() == 1; }

}  // namespace

at::Tensor pooled_empty(at::IntArrayRef shape, const at::TensorOptions& options) {
  int64_t n = 1;
  for (const int64_t s : shape) n *= s;
  // Under inference mode a new buffer is an inference tensor, which autograd may not save: one
  // made there and handed out later to a training call would fail it, so none is made there.
  if (n * static_cast<int64_t>(options.dtype().itemsize()) < POOL_FROM || !options.device().is_cpu() ||
      c10::InferenceMode::is_enabled()) {
    return at::empty(shape, options);
  }
  static std::mutex lock;
  static std::vector<Held> pool;
  static uint64_t requests = 0;
  std::lock_guard<std::mutex> guard(lock);
  const uint64_t now = ++requests;
  Held* best = nullptr;
  for (Held& h : pool) {
    const bool fits = h.flat.dtype() == options.dtype() && h.flat.numel() >= n && h.flat.numel() <= 2 * n;
    if (fits && idle(h.flat) && (best == nullptr || h.flat.numel() < best->flat.numel())) best = &h;
  }
  at::Tensor out;
  if (best != nullptr) {
    best->used = now;
    out = best->flat.narrow(0, 0, n);
  }
  int64_t held = 0;  // drop the stale idle ones, then the oldest idle ones while over the cap
  for (auto it = pool.begin(); it != pool.end();) {
    if (it->used + STALE < now && idle(it->flat)) {
      it = pool.erase(it);
    } else {
      held += bytes(it->flat);
      ++it;
    }
  }
  if (out.defined()) return out.view(shape);
  at::Tensor fresh = at::empty({n}, options);
  held += bytes(fresh);
  while (held > POOL_BYTES) {  // over the cap: drop the idle buffer used longest ago, if any
    auto oldest = pool.end();
    for (auto it = pool.begin(); it != pool.end(); ++it) {
      if (idle(it->flat) && (oldest == pool.end() || it->used < oldest->used)) oldest = it;
    }
    if (oldest == pool.end()) break;
    held -= bytes(oldest->flat);
    pool.erase(oldest);
  }
  if (held <= POOL_BYTES) pool.push_back({fresh, now});
  return fresh.view(shape);
}
