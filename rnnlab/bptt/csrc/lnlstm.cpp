// The per-step loops of the layer-normalised LSTM's explicit BPTT (rnnlab/bptt/lnlstm.py), in C++.
//
// Per step and batch row: the recurrent product is normalised over its 4H entries (mean, then
// variance, as torch.nn.LayerNorm: biased variance, eps inside the square root), added to the
// input side, the gates and cell follow, and the cell is normalised over its H entries before
// its tanh. The normalised values and inverse deviations are kept for backward, where
//     dx = rstd * (dy*gain - mean(dy*gain) - xhat * mean(dy*gain*xhat))
// gives each normalisation's input gradient. float32 on the CPU only.

#include <ATen/ATen.h>

#include <cmath>

#include "common.h"

namespace {

// y = (x - mean) / sqrt(var + eps) for one row; writes xhat, returns rstd
inline float normalise(const float* x, float* xhat, int64_t n, float eps) {
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) sum += x[j];
  const float mean = sum / n;
  float sq = 0.f;
#pragma omp simd reduction(+ : sq)
  for (int64_t j = 0; j < n; ++j) sq += (x[j] - mean) * (x[j] - mean);
  const float rstd = 1.f / std::sqrt(sq / n + eps);
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) xhat[j] = (x[j] - mean) * rstd;
  return rstd;
}

// dx = rstd * (dy*gain - mean(dy*gain) - xhat * mean(dy*gain*xhat)) for one row
inline void normalise_backward(const float* dy, const float* gain, const float* xhat, float rstd, float* dx,
                               int64_t n) {
  float s1 = 0.f, s2 = 0.f;
#pragma omp simd reduction(+ : s1, s2)
  for (int64_t j = 0; j < n; ++j) {
    const float d = dy[j] * gain[j];
    s1 += d;
    s2 += d * xhat[j];
  }
  s1 /= n;
  s2 /= n;
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) dx[j] = rstd * (dy[j] * gain[j] - s1 - xhat[j] * s2);
}

struct Norms {
  const float *gain_hh, *gain_c, *shift_c;
  float eps;
};

void forward_step(const float* u, const float* v, const float* c, const Norms& ln, float* a, float* xh, float* rh,
                  float* cn, float* xc, float* rc, float* tc, float* h, int64_t b0, int64_t B, int64_t H) {
  for (int64_t b = b0; b < B; ++b) {
    const int64_t g4 = b * 4 * H, g1 = b * H;
    rh[b] = normalise(v + g4, xh + g4, 4 * H, ln.eps);
    float* ab = a + g4;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const float i = sigm(u[g4 + j] + ln.gain_hh[j] * xh[g4 + j]);
      const float f = sigm(u[g4 + H + j] + ln.gain_hh[H + j] * xh[g4 + H + j]);
      const float g = std::tanh(u[g4 + 2 * H + j] + ln.gain_hh[2 * H + j] * xh[g4 + 2 * H + j]);
      const float o = sigm(u[g4 + 3 * H + j] + ln.gain_hh[3 * H + j] * xh[g4 + 3 * H + j]);
      ab[j] = i;
      ab[H + j] = f;
      ab[2 * H + j] = g;
      ab[3 * H + j] = o;
      cn[g1 + j] = f * c[g1 + j] + i * g;
    }
    rc[b] = normalise(cn + g1, xc + g1, H, ln.eps);
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const float t = std::tanh(ln.gain_c[j] * xc[g1 + j] + ln.shift_c[j]);
      tc[g1 + j] = t;
      h[g1 + j] = ab[3 * H + j] * t;
    }
  }
}

void backward_step(const float* d_out, const float* rec, const float* d_c_out, const float* a, const float* c_prev,
                   const float* xh, const float* rh, const float* xc, const float* rc, const float* tc,
                   const Norms& ln, float* dh_t, float* d_pre, float* d_cn, float* dv, float* dc, float* scratch,
                   float* sums, int64_t b0, int64_t B, int64_t H) {
  for (int64_t b = b0; b < B; ++b) {
    const int64_t g4 = b * 4 * H, g1 = b * H;
    const float* ab = a + g4;
    float* s = scratch + g1;  // dL/dc through the cell's normalisation
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const float dh = d_out[g1 + j] + rec[g1 + j];
      dh_t[g1 + j] = dh;
      const float o = ab[3 * H + j], t = tc[g1 + j];
      d_pre[g4 + 3 * H + j] = dh * t * o * (1.f - o);
      d_cn[g1 + j] = dh * o * (1.f - t * t);
    }
    normalise_backward(d_cn + g1, ln.gain_c, xc + g1, rc[b], s, H);
    float* sum_gc = sums + b * 6 * H + 4 * H;  // this row's running sums for the gains' gradients
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      sum_gc[j] += d_cn[g1 + j] * xc[g1 + j];
      sum_gc[H + j] += d_cn[g1 + j];
    }
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const float i = ab[j], f = ab[H + j], g = ab[2 * H + j];
      const float d = dc[g1 + j] + d_c_out[g1 + j] + s[j];
      d_pre[g4 + j] = d * g * i * (1.f - i);
      d_pre[g4 + H + j] = d * c_prev[g1 + j] * f * (1.f - f);
      d_pre[g4 + 2 * H + j] = d * i * (1.f - g * g);
      dc[g1 + j] = d * f;
    }
    normalise_backward(d_pre + g4, ln.gain_hh, xh + g4, rh[b], dv + g4, 4 * H);
    float* sum_gh = sums + b * 6 * H;
#pragma omp simd
    for (int64_t j = 0; j < 4 * H; ++j) sum_gh[j] += d_pre[g4 + j] * xh[g4 + j];
  }
}

}  // namespace

std::vector<at::Tensor> lnlstm_forward(const at::Tensor& u, const at::Tensor& h0, const at::Tensor& c0,
                                       const at::Tensor& w_hh, const c10::optional<at::Tensor>& packed,
                                       const at::Tensor& gain_hh, const at::Tensor& gain_c, const at::Tensor& shift_c,
                                       double eps) {
  check_float(u, "u");
  check_float(h0, "h0");
  check_float(c0, "c0");
  at::NoGradGuard no_grad;
  const int64_t T = u.size(0), B = u.size(1), H = h0.size(1), s4 = B * 4 * H, s1 = B * H;
  const Product rec{w_hh, packed, B};
  const auto gh = gain_hh.contiguous(), gc = gain_c.contiguous(), sc = shift_c.contiguous();
  const Norms ln{gh.data_ptr<float>(), gc.data_ptr<float>(), sc.data_ptr<float>(), static_cast<float>(eps)};
  auto acts = at::empty_like(u), xh = at::empty_like(u), rh = at::empty({T, B}, u.options());
  auto cs = at::empty({T, B, H}, u.options()), xc = at::empty_like(cs), rc = at::empty({T, B}, u.options());
  auto tcs = at::empty_like(cs), hs = at::empty_like(cs);
  float *A = acts.data_ptr<float>(), *XH = xh.data_ptr<float>(), *RH = rh.data_ptr<float>();
  float *CS = cs.data_ptr<float>(), *XC = xc.data_ptr<float>(), *RC = rc.data_ptr<float>();
  float *TC = tcs.data_ptr<float>(), *HS = hs.data_ptr<float>();
  const float* U = u.data_ptr<float>();
  const float* c = c0.data_ptr<float>();
  at::Tensor h = h0;
  for (int64_t t = 0; t < T; ++t) {
    const at::Tensor v = rec(h);
    over_rows(B, 4 * H, [&](int64_t b0, int64_t b1) {
      forward_step(U + t * s4, v.data_ptr<float>(), c, ln, A + t * s4, XH + t * s4, RH + t * B, CS + t * s1,
                   XC + t * s1, RC + t * B, TC + t * s1, HS + t * s1, b0, b1, H);
    });
    h = hs.select(0, t);
    c = CS + t * s1;
  }
  return {acts, hs, cs, tcs, xh, rh, xc, rc};
}

std::vector<at::Tensor> lnlstm_backward(const c10::optional<at::Tensor>& d_hs, const c10::optional<at::Tensor>& d_cs,
                                        const at::Tensor& acts, const at::Tensor& cs, const at::Tensor& tcs,
                                        const at::Tensor& xh, const at::Tensor& rh, const at::Tensor& xc,
                                        const at::Tensor& rc, const at::Tensor& c0, const at::Tensor& w_hh_t,
                                        const c10::optional<at::Tensor>& packed_t, const at::Tensor& gain_hh,
                                        const at::Tensor& gain_c, double eps) {
  if (d_hs.has_value()) check_float(*d_hs, "d_hs");
  if (d_cs.has_value()) check_float(*d_cs, "d_cs");
  at::NoGradGuard no_grad;
  const int64_t T = cs.size(0), B = cs.size(1), H = cs.size(2), s4 = B * 4 * H, s1 = B * H;
  const Product rec_t{w_hh_t, packed_t, B};
  const auto gh = gain_hh.contiguous(), gc = gain_c.contiguous();
  const Norms ln{gh.data_ptr<float>(), gc.data_ptr<float>(), nullptr, static_cast<float>(eps)};
  auto d_pre = at::empty_like(acts), dv = at::empty_like(acts), dh = at::empty_like(cs);
  auto d_cn = at::empty_like(c0);  // per step only
  auto dc = at::zeros_like(c0), scratch = at::empty_like(c0);
  auto sums = at::zeros({B, 6 * H}, c0.options());  // per row: d gain_hh (4H), d gain_c (H), d shift_c (H)
  const auto zeros = at::zeros_like(c0);  // stands in for an absent gradient
  const float *A = acts.data_ptr<float>(), *CS = cs.data_ptr<float>(), *TC = tcs.data_ptr<float>();
  const float *XH = xh.data_ptr<float>(), *RH = rh.data_ptr<float>(), *XC = xc.data_ptr<float>();
  const float* RC = rc.data_ptr<float>();
  const float* DO = d_hs.has_value() ? d_hs->data_ptr<float>() : nullptr;
  const float* DC = d_cs.has_value() ? d_cs->data_ptr<float>() : nullptr;
  float *DP = d_pre.data_ptr<float>(), *DV = dv.data_ptr<float>(), *DH = dh.data_ptr<float>();
  float* DCN = d_cn.data_ptr<float>();
  at::Tensor rec = zeros;
  for (int64_t t = T - 1; t >= 0; --t) {
    over_rows(B, 4 * H, [&](int64_t b0, int64_t b1) {
      backward_step(DO ? DO + t * s1 : zeros.data_ptr<float>(), rec.data_ptr<float>(),
                    DC ? DC + t * s1 : zeros.data_ptr<float>(), A + t * s4,
                    t > 0 ? CS + (t - 1) * s1 : c0.data_ptr<float>(), XH + t * s4, RH + t * B, XC + t * s1,
                    RC + t * B, TC + t * s1, ln, DH + t * s1, DP + t * s4, DCN, DV + t * s4,
                    dc.data_ptr<float>(), scratch.data_ptr<float>(), sums.data_ptr<float>(), b0, b1, H);
    });
    rec = rec_t(dv.select(0, t));
  }
  const auto gains = sums.sum(0);
  return {d_pre, dh, rec, dc, dv, gains.narrow(0, 0, 4 * H), gains.narrow(0, 4 * H, H), gains.narrow(0, 5 * H, H)};
}
