// Pieces shared by the compiled loops: the logistic function, the recurrent product, checks.
#pragma once

#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <algorithm>
#include <cmath>

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
};

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
