// Forward-only loops of the standard cells (rnnlab/bptt/infer.py), in C++: nothing is saved for
// backward. Per step one GEMM for the recurrent product and ONE fused pass over the batch that
// updates the state (B, H) in place and writes h into the output; no gate buffer over all steps.
//
// kind 0: LSTM (i, f, g, o)          kind 1: LSTM without forget gate (i, g, o; c' = c + i g)
// kind 2: GRU (r, z, n; PyTorch's)   kind 3-6: Elman with tanh, sigmoid, relu, identity
//
// Two entry points: infer_sequence runs one layer and direction over a whole sequence (with
// per-sequence lengths and the reversed direction), stack_step one step of a whole stack plus a
// readout, for generation at batch 1. float32 on the CPU only.

#include <ATen/ATen.h>

#include <cmath>

#include "common.h"

namespace {

constexpr int LSTM = 0, NOFG = 1, GRU = 2, TANH = 3, SIGMOID = 4, RELU = 5, LINEAR = 6;

constexpr int gates(int kind) { return kind == LSTM ? 4 : (kind <= GRU ? 3 : 1); }

// One row of one step: the pre-activations (G*H) are u + b + y, the input side, the biases that
// add to it and the recurrent product (b_hn apart, for the GRU); h and c are updated in place, h
// is also written to o. The biases are added here rather than to u: a GEMM with a bias first
// writes the bias over its whole (T, B, G*H) output, one more pass over it.
template <int KIND>
inline void row_step(const float* u, const float* b, const float* y, const float* bn, float* h, float* c, float* o,
                     int64_t H) {
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const auto pre = [&](int64_t k) { return u[k * H + j] + b[k * H + j] + y[k * H + j]; };  // gate k's
    float hn;
    if (KIND == LSTM) {
      const float i = sigm(pre(0)), f = sigm(pre(1)), g = std::tanh(pre(2)), og = sigm(pre(3));
      const float cc = f * c[j] + i * g;
      c[j] = cc;
      hn = og * std::tanh(cc);
    } else if (KIND == NOFG) {
      const float i = sigm(pre(0)), g = std::tanh(pre(1)), og = sigm(pre(2));
      const float cc = c[j] + i * g;
      c[j] = cc;
      hn = og * std::tanh(cc);
    } else if (KIND == GRU) {
      const float r = sigm(pre(0)), z = sigm(pre(1));
      const float n = std::tanh(u[2 * H + j] + b[2 * H + j] + r * (y[2 * H + j] + bn[j]));
      hn = n + z * (h[j] - n);
    } else {
      const float a = pre(0);
      hn = KIND == TANH ? std::tanh(a) : KIND == SIGMOID ? sigm(a) : KIND == RELU ? (a < 0.f ? 0.f : a) : a;
    }
    h[j] = hn;
    o[j] = hn;
  }
}

// Where a row's values are in a (T, B, ...) tensor: strides of steps and rows, in floats.
struct Rows {
  float* base;
  int64_t step, row;
  float* at(int64_t t, int64_t b) const { return base + t * step + b * row; }
};

// Rows r0..r1 of the batch over the whole sequence; rec multiplies r1 - r0 rows.
template <int KIND>
void sequence_loop(const at::Tensor& u, const float* bias, const Rows& out, const at::Tensor& h, const float* bn,
                   float* C, const Product& rec, const int64_t* lens, bool reverse, int64_t r0, int64_t r1) {
  constexpr int G = gates(KIND);
  const int64_t T = u.size(0), B = u.size(1), H = h.size(1);
  const float* U = u.data_ptr<float>();
  float* HP = h.data_ptr<float>();
  const at::Tensor mine = h.narrow(0, r0, r1 - r0);
  for (int64_t k = 0; k < T; ++k) {
    const at::Tensor y = rec(mine);  // (r1 - r0, G*H)
    const float* Y = y.data_ptr<float>();  // row b of the batch is row b - r0 here
    over_rows(r1 - r0, H, [&](int64_t b0, int64_t b1) {
      for (int64_t b = r0 + b0; b < r0 + b1; ++b) {
        const int64_t L = lens ? lens[b] : T;
        if (k >= L) {  // past this sequence's end: the state stays, the output is zero
          std::fill_n(out.at(k, b), H, 0.f);
          continue;
        }
        const int64_t t = reverse ? L - 1 - k : k;
        float* cb = C ? C + b * H : nullptr;
        row_step<KIND>(U + (t * B + b) * G * H, bias, Y + (b - r0) * G * H, bn, HP + b * H, cb, out.at(t, b), H);
      }
    });
  }
}

template <class F>
void by_kind(int64_t kind, const F& f) {
  switch (kind) {
    case LSTM: return f(std::integral_constant<int, LSTM>());
    case NOFG: return f(std::integral_constant<int, NOFG>());
    case GRU: return f(std::integral_constant<int, GRU>());
    case TANH: return f(std::integral_constant<int, TANH>());
    case SIGMOID: return f(std::integral_constant<int, SIGMOID>());
    case RELU: return f(std::integral_constant<int, RELU>());
    case LINEAR: return f(std::integral_constant<int, LINEAR>());
    default: TORCH_CHECK(false, "unknown cell kind ", kind);
  }
}

const float* optional_ptr(const c10::optional<at::Tensor>& t) { return t.has_value() ? t->data_ptr<float>() : nullptr; }

}  // namespace

// Runs one layer and direction over u (T, B, G*H), the input side, plus bias (G*H), the biases
// that add to it (all but the GRU's b_hn). h (B, H) and c (B, H, LSTM only) hold the initial
// state and are updated in place to each sequence's state after its last valid step; h_t is
// written to out (T, B, H), whose rows may be strided (one direction's half of a bidirectional
// output). With lengths (B,), steps past a
// sequence's end leave its state alone and write zeros; reversed, a sequence is read from its
// last valid step back. `blocks`: row blocks of the batch run side by side, each for the whole
// sequence (common.h), as in training.
void infer_sequence(int64_t kind, const at::Tensor& u, const at::Tensor& bias, at::Tensor& out, at::Tensor& h,
                    const c10::optional<at::Tensor>& c, const at::Tensor& w_hh,
                    const c10::optional<at::Tensor>& packed, const c10::optional<at::Tensor>& b_hn,
                    const c10::optional<at::Tensor>& lengths, bool reverse, int64_t blocks) {
  check_float(u, "u");
  check_float(bias, "bias");
  check_float(h, "h");
  if (c.has_value()) check_float(*c, "c");
  TORCH_CHECK(out.scalar_type() == at::kFloat && out.stride(2) == 1, "out: expected float32 rows of unit stride");
  TORCH_CHECK(!lengths.has_value() || (lengths->scalar_type() == at::kLong && lengths->is_contiguous()),
              "lengths: expected contiguous int64");
  at::NoGradGuard no_grad;
  const Product rec{w_hh, packed, block_rows(h.size(0), blocks)};
  const Rows rows{out.data_ptr<float>(), out.stride(0), out.stride(1)};
  float* C = c.has_value() ? c->data_ptr<float>() : nullptr;
  const int64_t* lens = lengths.has_value() ? lengths->data_ptr<int64_t>() : nullptr;
  const float *b = bias.data_ptr<float>(), *bn = optional_ptr(b_hn);
  by_kind(kind, [&](auto k) {
    in_row_blocks(h.size(0), blocks, [&](int64_t r0, int64_t r1) {
      sequence_loop<decltype(k)::value>(u, b, rows, h, bn, C, rec.rows(r1 - r0), lens, reverse, r0, r1);
    });
  });
}

// One step of a stack of L layers for ids (B,): layer 0's input side is table[ids] (the embedding
// times W_ih plus the biases, for every id), layer l > 0's is hs[:, l-1] @ w_ih[l-1]^T + b_ih[l-1].
// hs (B, L, H) and cs (B, L, H, LSTM only) are updated in place. Returns the readout's logits
// (B, V) of the last layer's h.
at::Tensor stack_step(int64_t kind, const at::Tensor& table, const at::Tensor& ids, at::Tensor& hs,
                      const c10::optional<at::Tensor>& cs, const std::vector<at::Tensor>& w_ih,
                      const std::vector<at::Tensor>& bias, const std::vector<at::Tensor>& w_hh,
                      const std::vector<at::Tensor>& b_hn, const at::Tensor& w_out,
                      const c10::optional<at::Tensor>& b_out) {
  check_float(table, "table");
  check_float(hs, "hs");
  if (cs.has_value()) check_float(*cs, "cs");
  at::NoGradGuard no_grad;
  const int64_t B = hs.size(0), L = hs.size(1), H = hs.size(2);
  TORCH_CHECK(static_cast<int64_t>(w_hh.size()) == L && static_cast<int64_t>(bias.size()) == L &&
                  static_cast<int64_t>(w_ih.size()) == L - 1,
              "stack_step: ", L, " layers need ", L, " recurrent weights and biases and ", L - 1, " input weights");
  float* HS = hs.data_ptr<float>();
  float* CS = cs.has_value() ? cs->data_ptr<float>() : nullptr;
  for (int64_t l = 0; l < L; ++l) {
    const at::Tensor h = hs.select(1, l);  // (B, H), rows L*H apart
    at::Tensor u;
    if (l == 0) {
      u = table.index_select(0, ids);
    } else {
      const at::Tensor x = hs.select(1, l - 1);
      u = at::mm(x, w_ih[l - 1].t());
    }
    const at::Tensor y = at::mm(h, w_hh[l].t());
    const float *Ub = u.data_ptr<float>(), *Yb = y.data_ptr<float>(), *bl = bias[l].data_ptr<float>();
    const float* bn = kind == GRU ? b_hn[l].data_ptr<float>() : nullptr;
    const int64_t GH = u.size(1);
    by_kind(kind, [&](auto k) {
      for (int64_t b = 0; b < B; ++b) {
        float* hb = HS + (b * L + l) * H;
        row_step<decltype(k)::value>(Ub + b * GH, bl, Yb + b * GH, bn, hb, CS ? CS + (b * L + l) * H : nullptr, hb, H);
      }
    });
  }
  const at::Tensor last = hs.select(1, L - 1);
  return b_out.has_value() ? at::addmm(*b_out, last, w_out.t()) : at::mm(last, w_out.t());
}

// Both directions of a bidirectional layer at once: infer_sequence for direction d on u[d],
// bias[d], out[d], h[d], c[d], w_hh[d], packed[d], b_hn[d] (d = 1 reversed), the two on two of
// PyTorch's intra-op threads. Each direction's per-step GEMM then runs single-threaded (MKL inside
// a parallel region): at a batch too small for row blocks, one thread per direction with no
// synchronisation between steps does better than both threads on every step's small GEMM.
void infer_directions(int64_t kind, const std::vector<at::Tensor>& u, const std::vector<at::Tensor>& bias,
                      std::vector<at::Tensor> out, std::vector<at::Tensor> h,
                      const std::vector<c10::optional<at::Tensor>>& c, const std::vector<at::Tensor>& w_hh,
                      const std::vector<c10::optional<at::Tensor>>& packed,
                      const std::vector<c10::optional<at::Tensor>>& b_hn, const c10::optional<at::Tensor>& lengths) {
  TORCH_CHECK(u.size() == 2 && bias.size() == 2 && out.size() == 2 && h.size() == 2 && c.size() == 2 &&
                  w_hh.size() == 2 && packed.size() == 2 && b_hn.size() == 2,
              "infer_directions: expected two of each argument, one per direction");
  in_row_blocks(2, 2, [&](int64_t d, int64_t) {  // two blocks of one "row": the directions
    infer_sequence(kind, u[d], bias[d], out[d], h[d], c[d], w_hh[d], packed[d], b_hn[d], lengths, d == 1, 1);
  });
}
