// The per-step loops of the Elman family's explicit BPTT (rnnlab/bptt/elman.py), in C++:
// h_t = f(u_t + W h_{t-1}) with f = tanh (ACT 0), sigmoid (1), relu (2) or the identity (3).
// float32 on the CPU only. `blocks`: row blocks of the batch run side by side (common.h).

#include <ATen/ATen.h>

#include <cmath>

#include "common.h"

namespace {

template <int ACT>
inline float activate(float x) {
  if (ACT == 0) return std::tanh(x);
  if (ACT == 1) return sigm(x);
  if (ACT == 2) return x < 0.f ? 0.f : x;  // NaN stays NaN, as torch.relu
  return x;
}

template <int ACT>
inline float slope(float h) {  // f'(pre) written through h = f(pre)
  if (ACT == 0) return 1.f - h * h;
  if (ACT == 1) return h * (1.f - h);
  if (ACT == 2) return h > 0.f ? 1.f : 0.f;
  return 1.f;
}

template <int ACT>
void forward_step(const float* u, const float* y, float* h, int64_t b0, int64_t B, int64_t H) {
#pragma omp simd
  for (int64_t k = b0 * H; k < B * H; ++k) h[k] = activate<ACT>(u[k] + y[k]);
}

// d_pre may be d_out itself: each element of d_out is read before the same element of d_pre is written.
template <int ACT>
void backward_step(const float* d_out, const float* rec, const float* h, float* dh, float* d_pre, int64_t b0,
                   int64_t B, int64_t H) {
#pragma omp simd
  for (int64_t k = b0 * H; k < B * H; ++k) {
    const float g = d_out[k] + rec[k];
    dh[k] = g;
    d_pre[k] = g * slope<ACT>(h[k]);
  }
}

template <int ACT>
at::Tensor forward_loop(const at::Tensor& u, const at::Tensor& h0, const Product& rec, int64_t blocks) {
  const int64_t T = u.size(0), B = u.size(1), H = u.size(2), sh = B * H;
  auto hs = at::empty_like(u);
  const float* U = u.data_ptr<float>();
  float* HS = hs.data_ptr<float>();
  in_row_blocks(B, blocks, [&](int64_t r0, int64_t r1) {
    const int64_t n = r1 - r0, o = r0 * H;
    const Product mine = rec.rows(n);
    at::Tensor h = h0.narrow(0, r0, n);
    for (int64_t t = 0; t < T; ++t) {
      const at::Tensor y = mine(h);
      over_rows(n, H, [&](int64_t b0, int64_t b1) {
        forward_step<ACT>(U + t * sh + o, y.data_ptr<float>(), HS + t * sh + o, b0, b1, H);
      });
      h = hs.select(0, t).narrow(0, r0, n);
    }
  });
  return hs;
}

template <int ACT>
std::vector<at::Tensor> backward_loop(const at::Tensor& d_hs, bool own_d_hs, const at::Tensor& hs,
                                      const Product& rec_t, bool keep_dh, int64_t blocks) {
  const int64_t T = hs.size(0), B = hs.size(1), H = hs.size(2), sh = B * H;
  const int64_t sdh = keep_dh ? sh : 0;  // else each step's dh goes to one (B, H) scratch
  auto d_pre = own_d_hs ? d_hs : pooled_empty(hs.sizes(), hs.options()), dh0 = at::empty({B, H}, hs.options());
  auto dh = keep_dh ? at::empty_like(hs) : at::empty_like(dh0);
  const float *DO = d_hs.data_ptr<float>(), *HS = hs.data_ptr<float>();
  float *DP = d_pre.data_ptr<float>(), *DH = dh.data_ptr<float>();
  in_row_blocks(B, blocks, [&](int64_t r0, int64_t r1) {
    const int64_t n = r1 - r0, o = r0 * H;
    const Product mine = rec_t.rows(n);
    at::Tensor rec = at::zeros({n, H}, hs.options());
    for (int64_t t = T - 1; t >= 0; --t) {
      over_rows(n, H, [&](int64_t b0, int64_t b1) {
        backward_step<ACT>(DO + t * sh + o, rec.data_ptr<float>(), HS + t * sh + o, DH + t * sdh + o,
                           DP + t * sh + o, b0, b1, H);
      });
      rec = mine(d_pre.select(0, t).narrow(0, r0, n));
    }
    dh0.narrow(0, r0, n).copy_(rec);  // rec is dL/dh0 after the loop
  });
  return {d_pre, keep_dh ? dh : at::Tensor(), dh0};
}

}  // namespace

at::Tensor elman_forward(const at::Tensor& u, const at::Tensor& h0, const at::Tensor& w_hh,
                         const c10::optional<at::Tensor>& packed, int64_t act, int64_t blocks) {
  check_float(u, "u");
  check_float(h0, "h0");
  at::NoGradGuard no_grad;
  const Product rec{w_hh, packed, block_rows(h0.size(0), blocks)};
  switch (act) {
    case 0: return forward_loop<0>(u, h0, rec, blocks);
    case 1: return forward_loop<1>(u, h0, rec, blocks);
    case 2: return forward_loop<2>(u, h0, rec, blocks);
    default: return forward_loop<3>(u, h0, rec, blocks);
  }
}

// d_hs: the outputs' gradient, overwritten with d_pre where `own_d_hs` (a private copy). dh
// (T, B, H) only with `keep_dh` (for the gradient-flow record).
std::vector<at::Tensor> elman_backward(const at::Tensor& d_hs, bool own_d_hs, const at::Tensor& hs,
                                       const at::Tensor& w_hh_t, const c10::optional<at::Tensor>& packed_t, int64_t act,
                                       bool keep_dh, int64_t blocks) {
  check_float(d_hs, "d_hs");
  at::NoGradGuard no_grad;
  const Product rec_t{w_hh_t, packed_t, block_rows(hs.size(1), blocks)};
  switch (act) {
    case 0: return backward_loop<0>(d_hs, own_d_hs, hs, rec_t, keep_dh, blocks);
    case 1: return backward_loop<1>(d_hs, own_d_hs, hs, rec_t, keep_dh, blocks);
    case 2: return backward_loop<2>(d_hs, own_d_hs, hs, rec_t, keep_dh, blocks);
    default: return backward_loop<3>(d_hs, own_d_hs, hs, rec_t, keep_dh, blocks);
  }
}
