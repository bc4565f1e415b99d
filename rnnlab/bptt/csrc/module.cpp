// Python bindings of the compiled per-step loops.
#include <torch/extension.h>

std::vector<at::Tensor> lstm_forward(const at::Tensor& u, const at::Tensor& h0, const at::Tensor& c0,
                                     const at::Tensor& w_hh, const c10::optional<at::Tensor>& packed,
                                     const c10::optional<at::Tensor>& peep, int64_t mode, int64_t blocks);
std::vector<at::Tensor> lstm_backward(const c10::optional<at::Tensor>& d_hs, const c10::optional<at::Tensor>& d_cs,
                                      const at::Tensor& acts, const at::Tensor& cs, const at::Tensor& c0,
                                      const at::Tensor& w_hh_t, const c10::optional<at::Tensor>& packed_t,
                                      const c10::optional<at::Tensor>& peep, int64_t mode, bool keep_dh,
                                      int64_t blocks);

std::vector<at::Tensor> mut_forward(const at::Tensor& u_zr, const at::Tensor& u_h, const at::Tensor& h0,
                                    const at::Tensor& w_rec, const c10::optional<at::Tensor>& p_rec,
                                    const at::Tensor& w_hh, const c10::optional<at::Tensor>& p_hh,
                                    const c10::optional<at::Tensor>& w_hz, const c10::optional<at::Tensor>& p_hz,
                                    int64_t zmode);
std::vector<at::Tensor> mut_backward(const at::Tensor& d_hs, const at::Tensor& h0, const at::Tensor& zr,
                                     const at::Tensor& ns, const at::Tensor& hs, const at::Tensor& ths,
                                     const at::Tensor& w_rec_t, const c10::optional<at::Tensor>& p_rec_t,
                                     const at::Tensor& w_hh_t, const c10::optional<at::Tensor>& p_hh_t,
                                     const c10::optional<at::Tensor>& w_hz_t, const c10::optional<at::Tensor>& p_hz_t,
                                     int64_t zmode);

std::vector<at::Tensor> lnlstm_forward(const at::Tensor& u, const at::Tensor& h0, const at::Tensor& c0,
                                       const at::Tensor& w_hh, const c10::optional<at::Tensor>& packed,
                                       const at::Tensor& gain_hh, const at::Tensor& gain_c, const at::Tensor& shift_c,
                                       double eps);
std::vector<at::Tensor> lnlstm_backward(const c10::optional<at::Tensor>& d_hs, const c10::optional<at::Tensor>& d_cs,
                                        const at::Tensor& acts, const at::Tensor& cs, const at::Tensor& tcs,
                                        const at::Tensor& xh, const at::Tensor& rh, const at::Tensor& xc,
                                        const at::Tensor& rc, const at::Tensor& c0, const at::Tensor& w_hh_t,
                                        const c10::optional<at::Tensor>& packed_t, const at::Tensor& gain_hh,
                                        const at::Tensor& gain_c, double eps);

at::Tensor elman_forward(const at::Tensor& u, const at::Tensor& h0, const at::Tensor& w_hh,
                         const c10::optional<at::Tensor>& packed, int64_t act, int64_t blocks);
std::vector<at::Tensor> elman_backward(const at::Tensor& d_hs, bool own_d_hs, const at::Tensor& hs,
                                       const at::Tensor& w_hh_t, const c10::optional<at::Tensor>& packed_t, int64_t act,
                                       bool keep_dh, int64_t blocks);

at::Tensor clockwork_forward(const at::Tensor& u, const at::Tensor& h0, const std::vector<at::Tensor>& weights,
                             const std::vector<c10::optional<at::Tensor>>& packed, const std::vector<int64_t>& which,
                             const std::vector<c10::optional<at::Tensor>>& masks);
std::vector<at::Tensor> clockwork_backward(const at::Tensor& d_hs, const at::Tensor& hs,
                                           const std::vector<at::Tensor>& weights_t,
                                           const std::vector<c10::optional<at::Tensor>>& packed_t,
                                           const std::vector<int64_t>& which,
                                           const std::vector<c10::optional<at::Tensor>>& masks);

std::vector<at::Tensor> gru_forward(const at::Tensor& u, const at::Tensor& h0, const at::Tensor& w_hh,
                                    const c10::optional<at::Tensor>& packed, const at::Tensor& b_hn, int64_t blocks);
std::vector<at::Tensor> gru_backward(const at::Tensor& d_hs, bool own_d_hs, const at::Tensor& h0,
                                     const at::Tensor& acts, const at::Tensor& yns, const at::Tensor& hs,
                                     const at::Tensor& w_hh_t, const c10::optional<at::Tensor>& packed_t, bool keep_dh,
                                     int64_t blocks);

void infer_sequence(int64_t kind, const at::Tensor& u, const at::Tensor& bias, at::Tensor& out, at::Tensor& h,
                    const c10::optional<at::Tensor>& c, const at::Tensor& w_hh,
                    const c10::optional<at::Tensor>& packed, const c10::optional<at::Tensor>& b_hn,
                    const c10::optional<at::Tensor>& lengths, bool reverse, int64_t blocks);
void infer_directions(int64_t kind, const std::vector<at::Tensor>& u, const std::vector<at::Tensor>& bias,
                      std::vector<at::Tensor> out, std::vector<at::Tensor> h,
                      const std::vector<c10::optional<at::Tensor>>& c, const std::vector<at::Tensor>& w_hh,
                      const std::vector<c10::optional<at::Tensor>>& packed,
                      const std::vector<c10::optional<at::Tensor>>& b_hn, const c10::optional<at::Tensor>& lengths);
at::Tensor stack_step(int64_t kind, const at::Tensor& table, const at::Tensor& ids, at::Tensor& hs,
                      const c10::optional<at::Tensor>& cs, const std::vector<at::Tensor>& w_ih,
                      const std::vector<at::Tensor>& bias, const std::vector<at::Tensor>& w_hh,
                      const std::vector<at::Tensor>& b_hn, const at::Tensor& w_out,
                      const c10::optional<at::Tensor>& b_out);

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("clockwork_forward", &clockwork_forward, "Clockwork RNN: forward loop");
  m.def("clockwork_backward", &clockwork_backward, "Clockwork RNN: backward loop");
  m.def("elman_forward", &elman_forward, "Elman family: forward loop", py::call_guard<py::gil_scoped_release>());
  m.def("elman_backward", &elman_backward, "Elman family: backward loop", py::call_guard<py::gil_scoped_release>());
  m.def("gru_forward", &gru_forward, "GRU: forward loop", py::call_guard<py::gil_scoped_release>());
  m.def("gru_backward", &gru_backward, "GRU: backward loop", py::call_guard<py::gil_scoped_release>());
  m.def("lstm_forward", &lstm_forward, "LSTM family: forward loop", py::call_guard<py::gil_scoped_release>());
  m.def("lstm_backward", &lstm_backward, "LSTM family: backward loop", py::call_guard<py::gil_scoped_release>());
  m.def("mut_forward", &mut_forward, "MUT1-3: forward loop");
  m.def("mut_backward", &mut_backward, "MUT1-3: backward loop");
  m.def("lnlstm_forward", &lnlstm_forward, "layer-normalised LSTM: forward loop");
  m.def("infer_sequence", &infer_sequence, "standard cells: forward-only loop over a sequence",
        py::call_guard<py::gil_scoped_release>());
  m.def("infer_directions", &infer_directions, "standard cells: both directions at once, forward-only",
        py::call_guard<py::gil_scoped_release>());
  m.def("stack_step", &stack_step, "standard cells: one step of a stack and its readout");
  m.def("lnlstm_backward", &lnlstm_backward, "layer-normalised LSTM: backward loop");
}
