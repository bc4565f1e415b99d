"""What the RNN / LSTM / GRU behaviour tests share: ``test_rnn_arguments.py`` and ``test_rnn_numerics.py``.

Both check behaviour that torch.nn guarantees on torch.nn and on rnnlab alike: each test takes the
``nn_impl`` fixture (see conftest.py) and so runs once per implementation.
"""

# Upstream tests of PyTorch's test/test_nn.py (TestNN and TestNNDeviceType) and their counterparts here.
#
# Covered (re-expressed, not copied), in test_rnn_arguments.py:
#   test_rnn_args_check                             -> test_bad_input_or_state_shape_raises
#   test_projections_lstm_args_check                -> test_projected_lstm_bad_shapes_raise
#   test_rnn_initial_hidden_state                   -> test_zero_initial_state_is_the_default
#   test_projections_lstm_initial_hidden_state      -> test_projected_lstm_zero_state_is_the_default
#   test_projections_errors_on_gru_and_rnn          -> test_proj_size_refused_by_rnn_and_gru
#   test_cudnn_forward_exception (runs on CPU too)  -> test_wrong_state_or_feature_size_messages
#   test_error_RNN_seq_len_zero (CPU half)          -> test_empty_sequence_raises
#   test_RNN_input_size_zero                        -> test_empty_batch
#   test_RNN_nonlinearity                           -> test_nonlinearity_attribute_and_check
#   test_RNN_nonlinearity_passed_as_arg             -> test_nonlinearity_passed_positionally
#
# in test_rnn_numerics.py:
#   test_RNN_cpu_vs_cudnn_no_dropout,
#   test_RNN_cpu_vs_cudnn_with_dropout              -> test_same_as_reference_with_copied_weights (adapted: no cuDNN,
#                                                      so the module under test is checked against torch.nn's
#                                                      CPU module with copied weights, over the same grid of
#                                                      bias / bidirectional / batch_first / contiguity /
#                                                      packed lengths (list or tensor) / projections, dropout 0
#                                                      and 1; for "torch" it is torch against itself)
#   test_RNN_dropout (CPU half)                     -> test_dropout_between_layers
#   test_RNN_dropout_state (CPU half)               -> test_dropout_state_survives_save_and_load
#   test_RNN_change_dropout (CPU half)              -> test_dropout_changed_after_construction
#   test_rnn_weight_norm                            -> test_weight_norm_on_recurrent_weights
#   test_rnn_retain_variables                       -> test_backward_repeated_on_retained_graph
#   test_LSTM_grad_and_gradgrad,
#   test_GRU_grad_and_gradgrad                      -> test_gradcheck_and_gradgradcheck (RNN added)
#   test_LSTM_differentiable_backward_using_oneDNN  -> test_double_backward_with_and_without_onednn
#   test_variable_sequence                          -> test_packed_batch_matches_one_sequence_at_a_time
#   test_save_lstm_compatibility                    -> test_lstm_state_saved_before_proj_size
#
# Left out:
#   test_RNN_cell* and the other RNNCell / LSTMCell / GRUCell tests (test_lstmcell_backward_only_one_output_grad,
#       CUDA-only besides): the cells are not replaced by rnnlab
#   test_rnn_check_device, test_projections_lstm_check_device, test_cudnn_rnn_dropout_states_device:
#       need two GPUs
#   test_rnn_fused, test_partial_flat_weights, test_device_mask: CUDA-only
#   test_RNN_cudnn_weight_norm, test_cudnn_weight_format, test_cudnn_weight_tying: cuDNN-only
#   test_pack_sequence*, test_pad_sequence*, test_pack_padded_sequence*: no longer in test_nn.py (they live in
#       test/nn/test_packed_sequence.py) and test torch.nn.utils.rnn, not the modules; packed input to the
#       modules is exercised by test_packed_batch_matches_one_sequence_at_a_time and
#       test_same_as_reference_with_copied_weights

import torch

MODES = ["RNN", "GRU", "LSTM"]


def with_state(mode, h, c=None):
    """The state argument a module of ``mode`` takes: ``(h, c)`` for LSTM, ``h`` otherwise."""
    if mode == "LSTM":
        return (h, h if c is None else c)
    return h


def state_tensors(state):
    return list(state) if isinstance(state, tuple) else [state]


def strided(t):
    """The same values as ``t`` in a non-contiguous layout, differentiable back to ``t``."""
    return torch.stack([t, torch.zeros_like(t)], dim=-1)[..., 0]
