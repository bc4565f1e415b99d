// The per-step loops of the Clockwork RNN's explicit BPTT (rnnlab/bptt/clockwork.py), in C++.
//
// Step t updates units [0, n_t) (all modules that tick, and any idle module between them, which a
// 0/1 mask keeps): h[:n] = tanh(u[:n] + W[:n] h) blended by the mask, h[n:] unchanged. Its product
// uses the rows W[:n] only. float32 on the CPU only.

#include <ATen/ATen.h>

#include <cmath>

#include "common.h"

namespace {

template <bool MASK>
void forward_step(const float* u, const float* y, const float* h, const float* m, float* out, int64_t n, int64_t b0,
                  int64_t B, int64_t H) {
  for (int64_t b = b0; b < B; ++b) {
    const float *ub = u + b * H, *yb = y + b * n, *hb = h + b * H;
    float* ob = out + b * H;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
      const float v = std::tanh(ub[j] + yb[j]);
      ob[j] = MASK ? hb[j] + m[j] * (v - hb[j]) : v;
    }
#pragma omp simd
    for (int64_t j = n; j < H; ++j) ob[j] = hb[j];
  }
}

// g = d_out + pass + rec; d_pre = g (1 - h^2) m on [0, n); the next pass: g (1 - m) on [0, n), g after
template <bool MASK>
void backward_step(const float* d_out, const float* pass, const float* rec, const float* h, const float* m, float* dh,
                   float* d_pre, float* pass_next, int64_t n, int64_t b0, int64_t B, int64_t H) {
  for (int64_t b = b0; b < B; ++b) {
    const int64_t o = b * H;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
      const float g = d_out[o + j] + pass[o + j] + rec[o + j], hv = h[o + j];
      dh[o + j] = g;
      d_pre[o + j] = MASK ? g * (1.f - hv * hv) * m[j] : g * (1.f - hv * hv);
      pass_next[o + j] = MASK ? g * (1.f - m[j]) : 0.f;
    }
#pragma omp simd
    for (int64_t j = n; j < H; ++j) {
      const float g = d_out[o + j] + pass[o + j] + rec[o + j];
      dh[o + j] = g;
      d_pre[o + j] = 0.f;
      pass_next[o + j] = g;
    }
  }
}

}  // namespace

// weights[k], packed[k]: W[:n] for the k-th distinct n; which[t]: k for step t (-1: nothing ticks)
at::Tensor clockwork_forward(const at::Tensor& u, const at::Tensor& h0, const std::vector<at::Tensor>& weights,
                             const std::vector<c10::optional<at::Tensor>>& packed, const std::vector<int64_t>& which,
                             const std::vector<c10::optional<at::Tensor>>& masks) {
  check_float(u, "u");
  check_float(h0, "h0");
  at::NoGradGuard no_grad;
  const int64_t T = u.size(0), B = u.size(1), H = u.size(2), sh = B * H;
  auto hs = at::empty_like(u);
  const auto zeros = at::zeros({B, H}, u.options());
  const float* U = u.data_ptr<float>();
  float* HS = hs.data_ptr<float>();
  at::Tensor h = h0;
  for (int64_t t = 0; t < T; ++t) {
    const int64_t k = which[t], n = k < 0 ? 0 : weights[k].size(0);
    const at::Tensor y = k < 0 ? zeros : Product{weights[k], packed[k], B}(h);
    const float* m = masks[t].has_value() ? masks[t]->data_ptr<float>() : nullptr;
    over_rows(B, H, [&](int64_t b0, int64_t b1) {
      if (m) {
        forward_step<true>(U + t * sh, y.data_ptr<float>(), h.data_ptr<float>(), m, HS + t * sh, n, b0, b1, H);
      } else {
        forward_step<false>(U + t * sh, y.data_ptr<float>(), h.data_ptr<float>(), m, HS + t * sh, n, b0, b1, H);
      }
    });
    h = hs.select(0, t);
  }
  return hs;
}

// weights_t[k], packed_t[k]: (W[:n])^T; returns d_pre, dh (T, B, H) and dL/dh0
std::vector<at::Tensor> clockwork_backward(const at::Tensor& d_hs, const at::Tensor& hs,
                                           const std::vector<at::Tensor>& weights_t,
                                           const std::vector<c10::optional<at::Tensor>>& packed_t,
                                           const std::vector<int64_t>& which,
                                           const std::vector<c10::optional<at::Tensor>>& masks) {
  check_float(d_hs, "d_hs");
  at::NoGradGuard no_grad;
  const int64_t T = hs.size(0), B = hs.size(1), H = hs.size(2), sh = B * H;
  auto d_pre = at::empty_like(hs), dh = at::empty_like(hs);
  const auto zeros = at::zeros({B, H}, hs.options());
  at::Tensor pass = zeros, rec = zeros;
  const float *DO = d_hs.data_ptr<float>(), *HS = hs.data_ptr<float>();
  float *DP = d_pre.data_ptr<float>(), *DH = dh.data_ptr<float>();
  for (int64_t t = T - 1; t >= 0; --t) {
    const int64_t k = which[t], n = k < 0 ? 0 : weights_t[k].size(1);
    const float* m = masks[t].has_value() ? masks[t]->data_ptr<float>() : nullptr;
    at::Tensor pass_next = at::empty({B, H}, hs.options());
    over_rows(B, H, [&](int64_t b0, int64_t b1) {
      if (m) {
        backward_step<true>(DO + t * sh, pass.data_ptr<float>(), rec.data_ptr<float>(), HS + t * sh, m, DH + t * sh,
                            DP + t * sh, pass_next.data_ptr<float>(), n, b0, b1, H);
      } else {
        backward_step<false>(DO + t * sh, pass.data_ptr<float>(), rec.data_ptr<float>(), HS + t * sh, m, DH + t * sh,
                             DP + t * sh, pass_next.data_ptr<float>(), n, b0, b1, H);
      }
    });
    pass = pass_next;
    rec = k < 0 ? zeros : Product{weights_t[k], packed_t[k], B}(d_pre.select(0, t).narrow(1, 0, n));
  }
  return {d_pre, dh, pass + rec};
}
