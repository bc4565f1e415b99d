// The per-step loops of MUT1-3's explicit BPTT (rnnlab/bptt/mut.py), in C++.
//
// Same formulas as the Python loops, with every element-wise operation of a step fused into one
// pass per phase. ZMODE 0: z from the input only (MUT1); 1: z from h, its weights stacked with
// W_hr into one GEMM (MUT2); 2: z from tanh(h) (MUT3). float32 on the CPU only.

#include <ATen/ATen.h>

#include <cmath>

#include "common.h"

namespace {

// z, r from their input sides and recurrent products; q = r * h
template <int ZMODE>
void gates(const float* uzr, const float* y, const float* yz, const float* h, float* zr, float* q, int64_t b0, int64_t B,
           int64_t H) {
  const int64_t ys = ZMODE == 1 ? 2 * H : H;
  for (int64_t b = b0; b < B; ++b) {
    const float *u = uzr + b * 2 * H, *yb = y + b * ys, *hb = h + b * H;
    float *o = zr + b * 2 * H, *qb = q + b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const float zp = ZMODE == 0 ? u[j] : (ZMODE == 1 ? u[j] + yb[j] : u[j] + yz[b * H + j]);
      const float r = sigm(u[H + j] + (ZMODE == 1 ? yb[H + j] : yb[j]));
      o[j] = sigm(zp);
      o[H + j] = r;
      qb[j] = r * hb[j];
    }
  }
}

// n = tanh(u_h + W_hh q); h' = h + z (n - h)
void update(const float* uh, const float* y, const float* h, const float* zr, float* n, float* h_out, int64_t b0, int64_t B,
            int64_t H) {
  for (int64_t b = b0; b < B; ++b) {
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const int64_t k = b * H + j;
      const float z = zr[b * 2 * H + j], nn = std::tanh(uh[k] + y[k]);
      n[k] = nn;
      h_out[k] = h[k] + z * (nn - h[k]);
    }
  }
}

// g = d_out + p1 + p2 (+ p3 (1 - th^2) for MUT3); dN = g z (1 - n^2)
template <int ZMODE>
void grad_in(const float* d_out, const float* p1, const float* p2, const float* p3, const float* th, const float* zr,
             const float* n, float* g_out, float* dn, int64_t b0, int64_t B, int64_t H) {
  for (int64_t b = b0; b < B; ++b) {
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const int64_t k = b * H + j;
      float g = d_out[k] + p1[k] + p2[k];
      if (ZMODE == 2) g += p3[k] * (1.f - th[k] * th[k]);
      const float z = zr[b * 2 * H + j];
      g_out[k] = g;
      dn[k] = g * z * (1.f - n[k] * n[k]);
    }
  }
}

// dR = dq h r(1-r); dZ = g (n - h) z(1-z); p1 = g (1 - z) + dq r (the direct paths to h_{t-1})
void grad_gates(const float* g, const float* dq, const float* h, const float* zr, const float* n, float* dzr, float* p1,
                int64_t b0, int64_t B, int64_t H) {
  for (int64_t b = b0; b < B; ++b) {
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const int64_t k = b * H + j;
      const float z = zr[b * 2 * H + j], r = zr[b * 2 * H + H + j];
      dzr[b * 2 * H + j] = g[k] * (n[k] - h[k]) * z * (1.f - z);
      dzr[b * 2 * H + H + j] = dq[k] * h[k] * r * (1.f - r);
      p1[k] = g[k] * (1.f - z) + dq[k] * r;
    }
  }
}

template <int ZMODE>
std::vector<at::Tensor> forward_loop(const at::Tensor& u_zr, const at::Tensor& u_h, const at::Tensor& h0,
                                     const Product& rec, const Product& rec_n, const Product& rec_z) {
  const int64_t T = u_h.size(0), B = u_h.size(1), H = u_h.size(2), sh = B * H;
  auto zr = at::empty_like(u_zr), qs = at::empty_like(u_h), ns = at::empty_like(u_h), hs = at::empty_like(u_h);
  auto ths = ZMODE == 2 ? at::empty_like(u_h) : at::Tensor();
  const float *UZR = u_zr.data_ptr<float>(), *UH = u_h.data_ptr<float>();
  float *ZR = zr.data_ptr<float>(), *Q = qs.data_ptr<float>(), *N = ns.data_ptr<float>(), *HS = hs.data_ptr<float>();
  at::Tensor h = h0;
  for (int64_t t = 0; t < T; ++t) {
    const at::Tensor y = rec(h);
    at::Tensor yz;
    if (ZMODE == 2) {
      at::Tensor th = ths.select(0, t);
      at::tanh_out(th, h);
      yz = rec_z(th);
    }
    over_rows(B, H, [&](int64_t b0, int64_t b1) {
      gates<ZMODE>(UZR + 2 * t * sh, y.data_ptr<float>(), ZMODE == 2 ? yz.data_ptr<float>() : nullptr,
                   h.data_ptr<float>(), ZR + 2 * t * sh, Q + t * sh, b0, b1, H);
    });
    const at::Tensor y2 = rec_n(qs.select(0, t));
    over_rows(B, H, [&](int64_t b0, int64_t b1) {
      update(UH + t * sh, y2.data_ptr<float>(), h.data_ptr<float>(), ZR + 2 * t * sh, N + t * sh, HS + t * sh, b0, b1, H);
    });
    h = hs.select(0, t);
  }
  return {zr, qs, ns, hs, ZMODE == 2 ? ths : at::empty({0}, u_h.options())};
}

template <int ZMODE>
std::vector<at::Tensor> backward_loop(const at::Tensor& d_hs, const at::Tensor& h0, const at::Tensor& zr,
                                      const at::Tensor& ns, const at::Tensor& hs, const at::Tensor& ths,
                                      const Product& rec_t, const Product& rec_n_t, const Product& rec_z_t) {
  const int64_t T = hs.size(0), B = hs.size(1), H = hs.size(2), sh = B * H;
  auto d_zr = at::empty_like(zr), d_n = at::empty_like(hs), dh = at::empty_like(hs);
  const auto zeros = at::zeros_like(h0);
  at::Tensor p1 = at::zeros_like(h0), p2 = zeros, p3 = zeros;
  const float *DO = d_hs.data_ptr<float>(), *ZR = zr.data_ptr<float>(), *N = ns.data_ptr<float>();
  const float *HS = hs.data_ptr<float>(), *TH = ZMODE == 2 ? ths.data_ptr<float>() : nullptr;
  float *DZR = d_zr.data_ptr<float>(), *DN = d_n.data_ptr<float>(), *DH = dh.data_ptr<float>();
  for (int64_t t = T - 1; t >= 0; --t) {
    const float* th_next = ZMODE == 2 && t < T - 1 ? TH + (t + 1) * sh : zeros.data_ptr<float>();
    over_rows(B, H, [&](int64_t b0, int64_t b1) {
      grad_in<ZMODE>(DO + t * sh, p1.data_ptr<float>(), p2.data_ptr<float>(), p3.data_ptr<float>(), th_next,
                     ZR + 2 * t * sh, N + t * sh, DH + t * sh, DN + t * sh, b0, b1, H);
    });
    const at::Tensor dq = rec_n_t(d_n.select(0, t));
    const float* h_prev = t > 0 ? HS + (t - 1) * sh : h0.data_ptr<float>();
    p1 = at::empty_like(h0);
    over_rows(B, H, [&](int64_t b0, int64_t b1) {
      grad_gates(DH + t * sh, dq.data_ptr<float>(), h_prev, ZR + 2 * t * sh, N + t * sh, DZR + 2 * t * sh,
                 p1.data_ptr<float>(), b0, b1, H);
    });
    const at::Tensor dzr_t = d_zr.select(0, t);
    p2 = rec_t(ZMODE == 1 ? dzr_t : dzr_t.narrow(1, H, H));
    if (ZMODE == 2) p3 = rec_z_t(dzr_t.narrow(1, 0, H));
  }
  at::Tensor dh0 = p1 + p2;
  if (ZMODE == 2) dh0 += p3 * (1 - at::tanh(h0).square());
  return {d_zr, d_n, dh, dh0};
}

}  // namespace

std::vector<at::Tensor> mut_forward(const at::Tensor& u_zr, const at::Tensor& u_h, const at::Tensor& h0,
                                    const at::Tensor& w_rec, const c10::optional<at::Tensor>& p_rec,
                                    const at::Tensor& w_hh, const c10::optional<at::Tensor>& p_hh,
                                    const c10::optional<at::Tensor>& w_hz, const c10::optional<at::Tensor>& p_hz,
                                    int64_t zmode) {
  check_float(u_zr, "u_zr");
  check_float(u_h, "u_h");
  check_float(h0, "h0");
  at::NoGradGuard no_grad;
  const int64_t B = h0.size(0);
  const Product rec{w_rec, p_rec, B}, rec_n{w_hh, p_hh, B}, rec_z{w_hz.value_or(w_hh), p_hz, B};
  if (zmode == 0) return forward_loop<0>(u_zr, u_h, h0, rec, rec_n, rec_z);
  if (zmode == 1) return forward_loop<1>(u_zr, u_h, h0, rec, rec_n, rec_z);
  return forward_loop<2>(u_zr, u_h, h0, rec, rec_n, rec_z);
}

std::vector<at::Tensor> mut_backward(const at::Tensor& d_hs, const at::Tensor& h0, const at::Tensor& zr,
                                     const at::Tensor& ns, const at::Tensor& hs, const at::Tensor& ths,
                                     const at::Tensor& w_rec_t, const c10::optional<at::Tensor>& p_rec_t,
                                     const at::Tensor& w_hh_t, const c10::optional<at::Tensor>& p_hh_t,
                                     const c10::optional<at::Tensor>& w_hz_t, const c10::optional<at::Tensor>& p_hz_t,
                                     int64_t zmode) {
  check_float(d_hs, "d_hs");
  check_float(h0, "h0");
  at::NoGradGuard no_grad;
  const int64_t B = h0.size(0);
  const Product rec{w_rec_t, p_rec_t, B}, rec_n{w_hh_t, p_hh_t, B}, rec_z{w_hz_t.value_or(w_hh_t), p_hz_t, B};
  if (zmode == 0) return backward_loop<0>(d_hs, h0, zr, ns, hs, ths, rec, rec_n, rec_z);
  if (zmode == 1) return backward_loop<1>(d_hs, h0, zr, ns, hs, ths, rec, rec_n, rec_z);
  return backward_loop<2>(d_hs, h0, zr, ns, hs, ths, rec, rec_n, rec_z);
}
