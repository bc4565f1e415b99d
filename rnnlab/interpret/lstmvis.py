"""Hidden states in the layout LSTMVis reads (Strobelt et al. 2018, "LSTMVis: a tool for visual
analysis of hidden state dynamics in recurrent neural networks").

A folder with ``states.hdf5`` (per layer: ``states<L>`` the cell state and ``output<L>`` the hidden
output, each ``(N, H)``; cells without a cell state write ``h`` as ``states<L>``),
``chars.hdf5`` (``words``: the character ids ``(N,)``), ``chars.dict`` (one ``token id`` line per
vocabulary entry; whitespace characters are written as ``<space>``, ``<nl>``, ``<tab>``) and
``lstm.yml``, the project file that names them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab.interpret.activations import Activations

_SHOWN = {" ": "<space>", "\n": "<nl>", "\t": "<tab>", "\r": "<cr>"}


def export(acts: Activations, chars: list[str], folder: Path, name: str = "rnnlab model") -> list[Path]:
    """Write the four files into ``folder`` (created); returns their paths."""
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index.get(c, 0) for c in acts.text], dtype=np.int64)  # unseen characters: id 0
    layers = sorted({int(k.split()[1]) for k in acts.states})
    types = []
    with h5py.File(folder / "states.hdf5", "w") as f:
        for layer in layers:
            h, c = acts.states[f"layer {layer} h"], acts.states.get(f"layer {layer} c")
            f.create_dataset(f"states{layer}", data=(c if c is not None else h).numpy())
            types.append(f"{{type: state, layer: {layer}, path: states{layer}}}")
            if c is not None:
                f.create_dataset(f"output{layer}", data=h.numpy())
                types.append(f"{{type: output, layer: {layer}, path: output{layer}}}")
    with h5py.File(folder / "chars.hdf5", "w") as f:
        f.create_dataset("words", data=ids)
    tokens = [_SHOWN.get(c, c if c.strip() else f"<u{ord(c):04x}>") for c in chars]
    (folder / "chars.dict").write_text("".join(f"{t} {i}\n" for i, t in enumerate(tokens)), encoding="utf-8")
    project = (
        f"name: {name}\n"
        "description: hidden states of a character model, written by rnnlab\n"
        "files:\n  states: states.hdf5\n  chars: chars.hdf5\n  chars_dict: chars.dict\n"
        "word_sequence:\n  file: chars\n  path: words\n  dict_file: chars_dict\n"
        "states:\n  file: states\n  types: [\n    " + ",\n    ".join(types) + "\n  ]\n"
    )
    (folder / "lstm.yml").write_text(project, encoding="utf-8")
    return [folder / n for n in ("states.hdf5", "chars.hdf5", "chars.dict", "lstm.yml")]
