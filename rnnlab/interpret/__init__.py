"""Looking inside a trained model: per-character features, hidden activations, and which units track what."""
