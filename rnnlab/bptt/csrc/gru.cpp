// The per-step loops of the GRU's explicit BPTT (rnnlab/bptt/gru.py), in C++, PyTorch's formula:
//   r = sigm(u_r + y_r), z = sigm(u_z + y_z), y_n = (W_hn h) + b_hn, n = tanh(u_n + r y_n),
//   h' = n + z (h - n), with y = h @ W_hh^T (B, 3H) the step's one GEMM.
// Per step one GEMM and ONE fused pass over the batch; float32 on the CPU only. `blocks`: row
// blocks of the batch run side by side (common.h).

#include <ATen/ATen.h>

#include <cmath>

#include "common.h"

namespace {

void forward_step(const float* u, const float* y, const float* bn, const float* hp, float* a, float* yn, float* h,
                  int64_t b0, int64_t B, int64_t H) {
  for (int64_t b = b0; b < B; ++b) {
    const float* ub = u + b * 3 * H;
    const float* yb = y + b * 3 * H;
    float* ab = a + b * 3 * H;
    const int64_t o = b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const float r = sigm(ub[j] + yb[j]), z = sigm(ub[H + j] + yb[H + j]);
      const float y_n = yb[2 * H + j] + bn[j];
      const float n = std::tanh(ub[2 * H + j] + r * y_n);
      ab[j] = r;
      ab[H + j] = z;
      ab[2 * H + j] = n;
      yn[o + j] = y_n;
      h[o + j] = n + z * (hp[o + j] - n);
    }
  }
}

// g = d_out + rec + carry is the total dL/dh_t (rec = the previous step's d_rec @ W_hh, carry =
// its g z); writes dh_t, d_rec = [dR, dZ, dY_n] (for W_hh), dn = dN and the new carry g z in
// place. The input side's gradient is d_rec with dN in place of dY_n, put together once the loop
// is done, instead of a second (T, B, 3H) buffer. dn may be d_out itself: each element of d_out
// is read before the same element of dn is written.
void backward_step(const float* d_out, const float* rec, const float* a, const float* yn, const float* hp,
                   float* carry, float* dh_t, float* d_rec, float* dn, int64_t b0, int64_t B, int64_t H) {
  for (int64_t b = b0; b < B; ++b) {
    const float* ab = a + b * 3 * H;
    float* db = d_rec + b * 3 * H;
    const int64_t o = b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const int64_t k = o + j;
      const float g = d_out[k] + rec[k] + carry[k];
      const float r = ab[j], z = ab[H + j], n = ab[2 * H + j];
      const float d_n = g * (1.f - z) * (1.f - n * n);
      dh_t[k] = g;
      db[j] = d_n * yn[k] * r * (1.f - r);
      db[H + j] = g * (hp[k] - n) * z * (1.f - z);
      db[2 * H + j] = d_n * r;
      dn[k] = d_n;
      carry[k] = g * z;
    }
  }
}

}  // namespace

std::vector<at::Tensor> gru_forward(const at::Tensor& u, const at::Tensor& h0, const at::Tensor& w_hh,
                                    const c10::optional<at::Tensor>& packed, const at::Tensor& b_hn, int64_t blocks) {
  check_float(u, "u");
  check_float(h0, "h0");
  check_float(b_hn, "b_hn");
  at::NoGradGuard no_grad;
  const int64_t T = u.size(0), B = u.size(1), H = h0.size(1), sg = B * 3 * H, sh = B * H;
  auto acts = pooled_empty(u.sizes(), u.options());
  auto yns = at::empty({T, B, H}, u.options()), hs = at::empty({T, B, H}, u.options());
  const float *U = u.data_ptr<float>(), *BN = b_hn.data_ptr<float>();
  float *A = acts.data_ptr<float>(), *YN = yns.data_ptr<float>(), *HS = hs.data_ptr<float>();
  const Product rec{w_hh, packed, block_rows(B, blocks)};
  in_row_blocks(B, blocks, [&](int64_t r0, int64_t r1) {
    const int64_t n = r1 - r0, o = r0 * H, og = 3 * o;
    const Product mine = rec.rows(n);
    at::Tensor h = h0.narrow(0, r0, n);
    for (int64_t t = 0; t < T; ++t) {
      const at::Tensor y = mine(h);
      const float* hp = h.data_ptr<float>();
      over_rows(n, H, [&](int64_t b0, int64_t b1) {
        forward_step(U + t * sg + og, y.data_ptr<float>(), BN, hp, A + t * sg + og, YN + t * sh + o, HS + t * sh + o,
                     b0, b1, H);
      });
      h = hs.select(0, t).narrow(0, r0, n);
    }
  });
  return {acts, yns, hs};
}

// d_hs: the outputs' gradient, overwritten with dN where `own_d_hs` (a private copy), else dN
// gets a buffer of its own. dh (T, B, H) only with `keep_dh` (for the gradient-flow record).
std::vector<at::Tensor> gru_backward(const at::Tensor& d_hs, bool own_d_hs, const at::Tensor& h0,
                                     const at::Tensor& acts, const at::Tensor& yns, const at::Tensor& hs,
                                     const at::Tensor& w_hh_t, const c10::optional<at::Tensor>& packed_t, bool keep_dh,
                                     int64_t blocks) {
  check_float(d_hs, "d_hs");
  check_float(h0, "h0");
  at::NoGradGuard no_grad;
  const int64_t T = hs.size(0), B = hs.size(1), H = hs.size(2), sg = B * 3 * H, sh = B * H;
  const int64_t sdh = keep_dh ? sh : 0;  // else each step's dh goes to one (B, H) scratch
  auto d_rec = pooled_empty(acts.sizes(), acts.options()), dn = own_d_hs ? d_hs : at::empty_like(hs);
  auto dh = keep_dh ? at::empty_like(hs) : at::empty_like(h0);
  auto carry = at::zeros_like(h0), dh0 = at::empty_like(h0);
  const float *DO = d_hs.data_ptr<float>(), *A = acts.data_ptr<float>(), *YN = yns.data_ptr<float>();
  const float *HS = hs.data_ptr<float>(), *H0 = h0.data_ptr<float>();
  float *DR = d_rec.data_ptr<float>(), *DN = dn.data_ptr<float>(), *DH = dh.data_ptr<float>();
  float* C = carry.data_ptr<float>();
  const Product rec_t{w_hh_t, packed_t, block_rows(B, blocks)};
  in_row_blocks(B, blocks, [&](int64_t r0, int64_t r1) {
    const int64_t n = r1 - r0, o = r0 * H, og = 3 * o;
    const Product mine = rec_t.rows(n);
    at::Tensor rec = at::zeros({n, H}, hs.options());
    for (int64_t t = T - 1; t >= 0; --t) {
      const float* hp = (t > 0 ? HS + (t - 1) * sh : H0) + o;
      over_rows(n, H, [&](int64_t b0, int64_t b1) {
        backward_step(DO + t * sh + o, rec.data_ptr<float>(), A + t * sg + og, YN + t * sh + o, hp, C + o,
                      DH + t * sdh + o, DR + t * sg + og, DN + t * sh + o, b0, b1, H);
      });
      rec = mine(d_rec.select(0, t).narrow(0, r0, n));
    }
    auto mine_dh0 = dh0.narrow(0, r0, n);
    at::add_out(mine_dh0, rec, carry.narrow(0, r0, n));  // dL/dh0 = d_rec_0 @ W_hh + g_0 z_0
  });
  return {d_rec, dn, keep_dh ? dh : at::Tensor(), dh0};
}
