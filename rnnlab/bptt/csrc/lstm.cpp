// The per-step loops of the LSTM family's explicit BPTT (rnnlab/bptt/lstm.py), in C++.
//
// Same plan and same formulas as the Python loops: per step one GEMM for the recurrent product
// (MKL's packed GEMM when the caller hands a packed weight) and ONE fused pass over the batch
// for every element-wise operation of the step, instead of a dozen separate tensor operations.
// float32 on the CPU only; everything else takes the Python loops. `blocks`: row blocks of the
// batch run side by side (common.h).
//
// mode 0: i, f, g, o (with PEEP: peepholes p_i, p_f on c_{t-1}, p_o on c_t)
// mode 1: i, g, o, no forget gate (1997): c' = c + i g
// mode 2: i, g, o, coupled gates (CIFG): c' = c + i (g - c)

#include <ATen/ATen.h>

#include <cmath>

#include "common.h"

namespace {

template <int MODE, bool PEEP>
void forward_step(const float* u, const float* y, const float* c, const float* p, float* a, float* cn, float* h,
                  int64_t b0, int64_t B, int64_t H) {
  constexpr int G = MODE == 0 ? 4 : 3;
  for (int64_t b = b0; b < B; ++b) {
    const float* ub = u + b * G * H;
    const float* yb = y + b * G * H;
    float* ab = a + b * G * H;
    const float* cb = c + b * H;
    float* cnb = cn + b * H;
    float* hb = h + b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      float i, g, f, cc, po;
      if (MODE == 0) {
        float pi = ub[j] + yb[j], pf = ub[H + j] + yb[H + j];
        if (PEEP) {
          pi += p[j] * cb[j];
          pf += p[H + j] * cb[j];
        }
        i = sigm(pi);
        f = sigm(pf);
        g = std::tanh(ub[2 * H + j] + yb[2 * H + j]);
        cc = f * cb[j] + i * g;
        po = ub[3 * H + j] + yb[3 * H + j];
        if (PEEP) po += p[2 * H + j] * cc;
        ab[H + j] = f;
        ab[2 * H + j] = g;
      } else {
        i = sigm(ub[j] + yb[j]);
        g = std::tanh(ub[H + j] + yb[H + j]);
        cc = MODE == 1 ? cb[j] + i * g : cb[j] + i * (g - cb[j]);
        po = ub[2 * H + j] + yb[2 * H + j];
        ab[H + j] = g;
      }
      const float o = sigm(po), t = std::tanh(cc);
      ab[j] = i;
      ab[(G - 1) * H + j] = o;
      cnb[j] = cc;
      hb[j] = o * t;
    }
  }
}

// dh_t = d_out[t] + rec (rec: the recurrent gradient from step t+1); writes dh_t, the gate
// pre-activation gradients d_pre[t] and updates the carried dc in place. tanh(c_t) is taken again
// from c_t (one tanh an element) rather than saved by forward: T*B*H floats less held. No pointer may be null:
// a conditional load inside the vector loop becomes a masked load, and a masked load near an
// unmapped address costs a microcode assist per vector (seen: 15 ns per element instead of 1).
template <int MODE, bool PEEP>
void backward_step(const float* d_out, const float* rec, const float* d_c_out, const float* a, const float* c_prev,
                   const float* cc, const float* p, float* dh_t, float* d_pre, float* dc, int64_t b0, int64_t B, int64_t H) {
  constexpr int G = MODE == 0 ? 4 : 3;
  for (int64_t b = b0; b < B; ++b) {
    const float* ab = a + b * G * H;
    float* db = d_pre + b * G * H;
    const int64_t o1 = b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const int64_t k = o1 + j;
      const float dh = d_out[k] + rec[k];
      dh_t[k] = dh;
      const float i = ab[j], o = ab[(G - 1) * H + j], t = std::tanh(cc[k]);
      const float d_o = dh * t * o * (1.f - o);
      float d = dc[k] + d_c_out[k] + dh * o * (1.f - t * t);
      if (PEEP) d += d_o * p[2 * H + j];
      if (MODE == 0) {
        const float f = ab[H + j], g = ab[2 * H + j];
        const float d_i = d * g * i * (1.f - i), d_f = d * c_prev[k] * f * (1.f - f);
        db[j] = d_i;
        db[H + j] = d_f;
        db[2 * H + j] = d * i * (1.f - g * g);
        float carry = d * f;
        if (PEEP) carry += d_i * p[j] + d_f * p[H + j];
        dc[k] = carry;
      } else {
        const float g = ab[H + j];
        db[j] = (MODE == 1 ? d * g : d * (g - c_prev[k])) * i * (1.f - i);
        db[H + j] = d * i * (1.f - g * g);
        dc[k] = MODE == 1 ? d : d * (1.f - i);
      }
      db[(G - 1) * H + j] = d_o;
    }
  }
}

template <int MODE, bool PEEP>
std::vector<at::Tensor> forward_loop(const at::Tensor& u, const at::Tensor& h0, const at::Tensor& c0,
                                     const at::Tensor& w_hh, const c10::optional<at::Tensor>& packed,
                                     const float* p, int64_t blocks) {
  const int64_t T = u.size(0), B = u.size(1), H = h0.size(1), GH = u.size(2);
  auto acts = pooled_empty(u.sizes(), u.options());
  auto hs = at::empty({T, B, H}, u.options()), cs = at::empty({T, B, H}, u.options());
  const int64_t sg = B * GH, sh = B * H;  // per-step strides: gates, states
  float *A = acts.data_ptr<float>(), *HS = hs.data_ptr<float>(), *CS = cs.data_ptr<float>();
  const float* U = u.data_ptr<float>();
  const Product rec{w_hh, packed, block_rows(B, blocks)};
  in_row_blocks(B, blocks, [&](int64_t r0, int64_t r1) {
    const int64_t n = r1 - r0, o = r0 * H, og = r0 * GH;
    const Product mine = rec.rows(n);
    const float* c = c0.data_ptr<float>() + o;
    at::Tensor h = h0.narrow(0, r0, n);
    for (int64_t t = 0; t < T; ++t) {
      const at::Tensor y = mine(h);
      over_rows(n, H, [&](int64_t b0, int64_t b1) {
        forward_step<MODE, PEEP>(U + t * sg + og, y.data_ptr<float>(), c, p, A + t * sg + og, CS + t * sh + o,
                                 HS + t * sh + o, b0, b1, H);
      });
      h = hs.select(0, t).narrow(0, r0, n);
      c = CS + t * sh + o;
    }
  });
  return {acts, hs, cs};
}

template <int MODE, bool PEEP>
std::vector<at::Tensor> backward_loop(const c10::optional<at::Tensor>& d_hs, const c10::optional<at::Tensor>& d_cs,
                                      const at::Tensor& acts, const at::Tensor& cs, const at::Tensor& c0,
                                      const at::Tensor& w_hh_t, const c10::optional<at::Tensor>& packed_t,
                                      const float* p, bool keep_dh, int64_t blocks) {
  const int64_t T = cs.size(0), B = cs.size(1), H = cs.size(2), GH = acts.size(2);
  auto d_pre = pooled_empty(acts.sizes(), acts.options());
  // dh (T, B, H) only for the gradient-flow record; else each step's dh goes to one (B, H) scratch
  auto dh = keep_dh ? at::empty_like(cs) : at::empty_like(c0), dh0 = at::empty_like(c0);
  const int64_t sdh = keep_dh ? B * H : 0;
  auto dc = at::zeros_like(c0);
  const auto zeros = at::zeros_like(c0);  // stands in for an absent gradient
  const int64_t sg = B * GH, sh = B * H;  // per-step strides: gates, states
  const float *A = acts.data_ptr<float>(), *CS = cs.data_ptr<float>();
  const float *C0 = c0.data_ptr<float>(), *Z = zeros.data_ptr<float>();
  const float* DO = d_hs.has_value() ? d_hs->data_ptr<float>() : nullptr;
  const float* DC = d_cs.has_value() ? d_cs->data_ptr<float>() : nullptr;
  float *DP = d_pre.data_ptr<float>(), *DH = dh.data_ptr<float>(), *DCC = dc.data_ptr<float>();
  const Product rec_t{w_hh_t, packed_t, block_rows(B, blocks)};
  in_row_blocks(B, blocks, [&](int64_t r0, int64_t r1) {
    const int64_t n = r1 - r0, o = r0 * H, og = r0 * GH;
    const Product mine = rec_t.rows(n);
    at::Tensor rec = zeros.narrow(0, r0, n);
    for (int64_t t = T - 1; t >= 0; --t) {
      over_rows(n, H, [&](int64_t b0, int64_t b1) {
        backward_step<MODE, PEEP>((DO ? DO + t * sh : Z) + o, rec.data_ptr<float>(), (DC ? DC + t * sh : Z) + o,
                                  A + t * sg + og, (t > 0 ? CS + (t - 1) * sh : C0) + o, CS + t * sh + o, p,
                                  DH + t * sdh + o, DP + t * sg + og, DCC + o, b0, b1, H);
      });
      rec = mine(d_pre.select(0, t).narrow(0, r0, n));
    }
    dh0.narrow(0, r0, n).copy_(rec);  // rec is dL/dh0 after the loop
  });
  return {d_pre, keep_dh ? dh : at::Tensor(), dh0, dc};
}

}  // namespace

std::vector<at::Tensor> lstm_forward(const at::Tensor& u, const at::Tensor& h0, const at::Tensor& c0,
                                     const at::Tensor& w_hh, const c10::optional<at::Tensor>& packed,
                                     const c10::optional<at::Tensor>& peep, int64_t mode, int64_t blocks) {
  check_float(u, "u");
  check_float(h0, "h0");
  check_float(c0, "c0");
  at::NoGradGuard no_grad;
  const float* p = peep.has_value() ? peep->data_ptr<float>() : nullptr;
  if (mode == 0) {
    return p ? forward_loop<0, true>(u, h0, c0, w_hh, packed, p, blocks)
             : forward_loop<0, false>(u, h0, c0, w_hh, packed, p, blocks);
  }
  return mode == 1 ? forward_loop<1, false>(u, h0, c0, w_hh, packed, p, blocks)
                   : forward_loop<2, false>(u, h0, c0, w_hh, packed, p, blocks);
}

std::vector<at::Tensor> lstm_backward(const c10::optional<at::Tensor>& d_hs, const c10::optional<at::Tensor>& d_cs,
                                      const at::Tensor& acts, const at::Tensor& cs, const at::Tensor& c0,
                                      const at::Tensor& w_hh_t, const c10::optional<at::Tensor>& packed_t,
                                      const c10::optional<at::Tensor>& peep, int64_t mode, bool keep_dh,
                                      int64_t blocks) {
  if (d_hs.has_value()) check_float(*d_hs, "d_hs");
  if (d_cs.has_value()) check_float(*d_cs, "d_cs");
  at::NoGradGuard no_grad;
  const float* p = peep.has_value() ? peep->data_ptr<float>() : nullptr;
  if (mode == 0) {
    return p ? backward_loop<0, true>(d_hs, d_cs, acts, cs, c0, w_hh_t, packed_t, p, keep_dh, blocks)
             : backward_loop<0, false>(d_hs, d_cs, acts, cs, c0, w_hh_t, packed_t, p, keep_dh, blocks);
  }
  return mode == 1 ? backward_loop<1, false>(d_hs, d_cs, acts, cs, c0, w_hh_t, packed_t, p, keep_dh, blocks)
                   : backward_loop<2, false>(d_hs, d_cs, acts, cs, c0, w_hh_t, packed_t, p, keep_dh, blocks);
}
