"""Why recurrent nets forget: gradient flow through time, step Jacobians, recurrent spectra, error surfaces."""
