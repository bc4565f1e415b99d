// Python bindings of the compiled per-step loops.
#include <torch/extension.h>

std::vector<at::Tensor> lstm_forward(const at::Tensor& u, const at::Tensor& h0, const at::Tensor& c0,
                                     const at::Tensor& w_hh, const c10::optional<at::Tensor>& packed,
                                     const c10::optional<at::Tensor>& peep, int64_t mode);
std::vector<at::Tensor> lstm_backward(const c10::optional<at::Tensor>& d_hs, const c10::optional<at::Tensor>& d_cs,
                                      const at::Tensor& acts, const at::Tensor& cs, const at::Tensor& tcs,
                                      const at::Tensor& c0, const at::Tensor& w_hh_t,
                                      const c10::optional<at::Tensor>& packed_t, const c10::optional<at::Tensor>& peep,
                                      int64_t mode);

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("lstm_forward", &lstm_forward, "LSTM family: forward loop");
  m.def("lstm_backward", &lstm_backward, "LSTM family: backward loop");
}
