// Pieces shared by the compiled loops: the logistic function, the recurrent product, the split of
// a batch over threads, checks.
#pragma once

// ATen alone, not torch/extension.h (the C++ frontend and pybind11): a loop's source compiles in
// 9 s instead of 24, and the whole build in about a minute; module.cpp alone binds them to Python.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <cmath>

// at::empty(shape, options), from a pool shared by all the loops where the buffer passes 32 MiB
// (pool.cpp).
at::Tensor pooled_empty(at::IntArrayRef shape, const at::TensorOptions& options);

namespace {

inline float sigm(float x) {
  x = x < -80.f ? -80.f : (x > 80.f ? 80.f : x);  // exp stays finite; NaN passes through
  return 1.f / (1.f + std::exp(-x));
}

// a @ W^T for the per-step products: MKL's packed GEMM when the caller packed W, else at::mm.
struct Product {
  at::Tensor weight;
  c10::optional<at::Tensor> packed;
  int64_t batch;

  at::Tensor operator()(const at::Tensor& a) const {
    if (packed.has_value()) {
      static auto op = c10::Dispatcher::singleton()
                           .findSchemaOrThrow("mkl::_mkl_linear", "")
                           .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                             const c10::optional<at::Tensor>&, int64_t)>();
      return op.call(a, *packed, weight, c10::nullopt, batch).contiguous();
    }
    return at::mm(a, weight.t()).contiguous();
  }

  // The same product for a block of n rows of the batch: MKL packs W for one number of rows.
  Product rows(int64_t n) const {
    if (!packed.has_value() || n == batch) return *this;
    static auto reorder = c10::Dispatcher::singleton()
                              .findSchemaOrThrow("mkl::_mkl_reorder_linear_weight", "")
                              .typed<at::Tensor(const at::Tensor&, int64_t)>();
    return Product{weight, reorder.call(weight, n), n};
  }
};

// The rows the caller packed W for when a batch of B runs in `blocks` row blocks: one block's
// (rnnlab.bptt.common.loop_product), which Product::rows then keeps for the blocks of that size.
inline int64_t block_rows(int64_t B, int64_t blocks) { return blocks > 1 ? B / blocks : B; }

// Runs body(r0, r1) over `blocks` row blocks of a batch of B, each for the whole time loop. The
// rows of a batch never meet inside a recurrence, so with one block per intra-op thread each
// thread runs its own loop, GEMMs single-threaded (MKL inside a parallel region), with no
// synchronisation between steps: per-call thread start-up and barriers of a 2-thread GEMM on a
// (B, H) step cost more than they save. A thread given several blocks runs them one after another.
template <class F>
void in_row_blocks(int64_t B, int64_t blocks, const F& body) {
  if (blocks <= 1) return body(0, B);
  at::parallel_for(0, blocks, 1, [&](int64_t p0, int64_t p1) {
    // PyTorch's worker threads do not inherit the caller's grad mode: without this, the per-step
    // products of a block would be recorded by autograd (and refused with out= on unpacked weights)
    at::NoGradGuard no_grad;
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t r0 = p * B / blocks, r1 = (p + 1) * B / blocks;
      if (r1 > r0) body(r0, r1);
    }
  });
}

// Runs f(b0, b1) over row blocks of a (B, H) step on PyTorch's intra-op threads; a block holds at
// least 2048 elements, below which a thread costs more than it saves.
template <class F>
void over_rows(int64_t B, int64_t H, const F& f) {
  at::parallel_for(0, B, std::max<int64_t>(1, 2048 / std::max<int64_t>(H, 1)), f);
}

inline void check_float(const at::Tensor& x, const char* name) {
  TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == at::kFloat && x.is_contiguous(), name,
              ": expected a contiguous float32 CPU tensor");
}

}  // namespace
