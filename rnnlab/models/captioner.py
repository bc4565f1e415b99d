"""Image captioning: a convolutional encoder reads the image, a recurrent decoder writes the caption.

The encoder (:class:`ConvEncoder`, trained from scratch) turns an image into a grid of feature
vectors ``a_1 ... a_G`` (``G = h * w`` cells, each a ``D``-vector describing a patch of the image).
The decoder is the one of the sequence-to-sequence model (:mod:`rnnlab.models.decoder`): any
registered cell, greedy decoding, sampling and beam search. Two ways to hand the image over:

- ``attention="none"``: Show and Tell (Vinyals, Toshev, Bengio & Erhan 2015, "Show and Tell: A
  Neural Image Caption Generator"). The decoder sees the image once, as the mean of the grid
  ``v = (1/G) sum_i a_i``: as its first input before ``<s>`` (``handover="input"``, the paper's
  way, §3.1: ``x_{-1} = W_I v``) or mapped into its initial state (``handover="state"``:
  ``h_0 = tanh(W_h v + b)``, and ``c_0`` alike for an LSTM).
- ``attention="soft"``: Show, Attend and Tell (Xu, Ba, Kiros, Cho, Courville, Salakhutdinov, Zemel
  & Bengio 2015). At every word the decoder attends over the ``G`` cells of the grid (the deterministic
  "soft" attention, §4.2: ``z_t = sum_i a_ti a_i`` with ``a_t`` a softmax of an MLP score, the
  additive score here) and the initial state comes from the mean of the grid (§3.1.2, one MLP per
  entry of the state: ``handover="state"``). The attended context enters through the decoder's
  attentional layer (Luong et al. 2015), or also the next step's input with ``input_feeding``.

The training loss of Show, Attend and Tell adds the "doubly stochastic" penalty
``lambda sum_i (1 - sum_t a_ti)^2`` (§4.2.1, eq. 14), which asks every cell to be looked at about
once over the caption; it belongs to the task (``--attention-penalty``).

The encoder is replaceable: any ``nn.Module`` that maps images ``(B, 3, H, W)`` (floats in
``[0, 1]``) to features ``(B, D, h, w)`` (``D`` from its attribute ``out_channels``, else measured on
a blank 224-px image), given as
``Captioner(config, encoder=...)`` (for example a torchvision backbone cut before its pooling, with
weights one has). A model built so is used from Python; runs save and load the built-in encoder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.cells import NAMES_HELP, check_cell
from rnnlab.cells.named import ResolvesCell
from rnnlab.configs import check_fields
from rnnlab.models.attention import ATTENTIONS, attention_parameters
from rnnlab.models.decoder import AttentionDecoder, DecoderState, Memory

HANDOVERS = ("state", "input")
CAPTION_ATTENTION = ("soft", "none")
POOLED = 3  # stages of the built-in encoder that halve the image: a 64-px image gives an 8x8 grid
PROBE_SIZE = 224  # side of the blank image that measures a replacement encoder without out_channels


@dataclass
class CaptionConfig(ResolvesCell):
    """Architecture of an image captioner; saved in the run's ``config.json`` with the weights."""

    vocab_size: int = 0
    channels: str = field(
        default="32,64,64,128",
        metadata={"help": "channels of the encoder's conv stages, comma-separated (the first 3 halve the image)"},
    )
    cell: str = field(default="lstm", metadata={"help": "decoder cell: " + NAMES_HELP})
    cell_options: dict = field(
        default_factory=dict, metadata={"help": "options of the cell as JSON, e.g. '{\"forget_bias\": 1.0}'"}
    )
    embedding_size: int = field(default=128, metadata={"help": "word embedding width"})
    hidden_size: int = field(default=256, metadata={"help": "units per decoder layer"})
    num_layers: int = field(default=1, metadata={"help": "stacked decoder layers"})
    attention: str = field(
        default="soft", metadata={"help": "soft: attend over the image grid at every word; none: Show and Tell"}
    )
    score: str = field(default="additive", metadata={"help": "attention score: " + ", ".join(ATTENTIONS)})
    handover: str = field(
        default="state", metadata={"help": "the image starts the decoder as its initial state or first input"}
    )
    input_feeding: bool = field(
        default=False, metadata={"help": "feed the last attended vector into the next step (slower)"}
    )
    dropout: float = field(default=0.3, metadata={"help": "dropout on image features, embeddings, before readout"})
    tie_embeddings: bool = field(default=False, metadata={"help": "share the word embedding with the readout"})

    def validate(self) -> None:
        check_fields(self)
        for name in ("vocab_size", "embedding_size", "hidden_size", "num_layers"):
            checks.positive_int(name, getattr(self, name))
        self.channel_list()
        checks.probability("dropout", self.dropout)
        check_cell("cell", self.cell, self.cell_options)
        checks.choice("attention", self.attention, CAPTION_ATTENTION)
        checks.choice("score", self.score, tuple(ATTENTIONS))
        checks.choice("handover", self.handover, HANDOVERS)
        if self.attention == "none" and self.input_feeding:
            checks.fail("input_feeding", "an attention to feed (--attention soft)", True)
        checks.fits_in_memory(self.min_parameters())

    def channel_list(self) -> list[int]:
        """The encoder's stages, as ``channels`` lists them."""
        try:
            stages = [int(c) for c in str(self.channels).split(",")]
        except ValueError:
            stages = []
        if not stages or min(stages) < 1 or max(stages) > 4096:
            checks.fail("channels", "comma-separated channel counts in [1, 4096], e.g. 32,64,64,128", self.channels)
        return stages

    def min_parameters(self) -> int:
        """A lower bound on the parameter count (exact but for the cell's extra gates)."""
        E, H, L, V = self.embedding_size, self.hidden_size, self.num_layers, self.vocab_size
        count, previous = 0, 3
        for c in self.channel_list():
            count += previous * c * 9 + 3 * c  # conv, its bias, the norm's scale and shift
            previous = c
        D = previous
        count += V * E + checks.recurrent_parameters(E + (H if self.input_feeding else 0), H, L)
        count += D * E if self.handover == "input" else D * H
        if self.attention == "soft":
            count += attention_parameters(self.score, H, D, H) + (D + H) * H
        count += V * (H + 1)
        return count


class ConvEncoder(nn.Module):
    """A small VGG-like convolutional net (Simonyan & Zisserman 2015): per stage a 3x3 convolution,
    batch normalisation (Ioffe & Szegedy 2015) and ReLU, the first :data:`POOLED` stages followed by
    2x2 max pooling; with 3 stages or more a 64-px image gives an 8x8 grid of ``channels[-1]`` features.

    Args:
        channels: the output channels of each stage.
        in_channels: the image's channels (3: RGB).
    """

    def __init__(self, channels: list[int], in_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for k, c in enumerate(channels):
            layers += [nn.Conv2d(in_channels, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            if k < POOLED:
                layers.append(nn.MaxPool2d(2))
            in_channels = c
        self.net = nn.Sequential(*layers)
        self.out_channels = in_channels

    def forward(self, images: Tensor) -> Tensor:
        """Features ``(B, D, h, w)`` of images ``(B, 3, H, W)`` in ``[0, 1]``."""
        return self.net(images * 2.0 - 1.0)


class ImageBridge(nn.Module):
    """The decoder's initial state from the image vector ``v``: ``tanh(W v + b)`` per entry of the
    state that is a vector of floats (``h``, an LSTM's ``c``), the same for every stacked layer;
    the other entries start as the cell's zero state."""

    def __init__(self, width: int, decoder: nn.Module) -> None:
        super().__init__()
        self.maps = nn.ModuleDict()
        for k, (shape, dtype) in enumerate(decoder.layers[0].state_spec):
            if dtype is None and len(shape) == 1:
                self.maps[str(k)] = nn.Sequential(nn.Linear(width, shape[0]), nn.Tanh())

    def forward(self, vector: Tensor, zero: tuple) -> tuple:
        """The state (one ``(L, B, ...)`` tensor per entry) for image vectors ``(B, D)``."""
        return tuple(
            self.maps[str(k)](vector).unsqueeze(0).expand_as(z).contiguous() if str(k) in self.maps else z
            for k, z in enumerate(zero)
        )


class Captioner(AttentionDecoder):
    """An image captioner; see the module docstring.

    Args:
        config: the architecture.
        encoder: a replacement for the built-in :class:`ConvEncoder` (see the module docstring).
    """

    @checks.refuse_allocation_failure
    def __init__(self, config: CaptionConfig, encoder: nn.Module | None = None) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.encoder = encoder if encoder is not None else ConvEncoder(config.channel_list())
        D = getattr(self.encoder, "out_channels", None)
        if D is None:  # e.g. a torchvision backbone cut before its pooling: ask it
            D = int(self._probe(PROBE_SIZE, PROBE_SIZE)[1])
        if not checks.is_integer(D) or D < 1:
            checks.fail("encoder", "a module with an integer attribute out_channels (its feature width)", D)
        if config.attention == "soft" and config.score == "dot" and D != config.hidden_size:
            checks.fail("score", f"'additive' or 'general' ('dot' needs the encoder's width {D} == hidden_size)", "dot")
        E, H = config.embedding_size, config.hidden_size
        self.build_embedding(config.vocab_size, E)
        self.build_decoder(config.cell, H, config.num_layers, config.input_feeding, config.dropout, config.cell_options)
        if config.handover == "input":
            self.image_input = nn.Linear(D, E)  # W_I: the image as the word before <s>
        else:
            self.bridge = ImageBridge(D, self.decoder)
        score = "none" if config.attention == "none" else config.score
        self.build_readout(D, score, config.dropout, config.tie_embeddings)

    def grid(self, images: Tensor) -> Tensor:
        """The encoder's features of ``images`` ``(B, 3, H, W)`` (uint8, or floats in ``[0, 1]``):
        ``(G, B, D)``, the cells of the grid row by row."""
        if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] != 3:
            got = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            checks.fail("images", "a (B, 3, H, W) tensor", got)
        if images.dtype == torch.uint8:
            images = images.float() / 255.0
        features = self.encoder(images)  # (B, D, h, w)
        return features.flatten(2).permute(2, 0, 1)  # (G, B, D)

    def encode(self, images: Tensor, lengths: Tensor | None = None) -> Memory:
        """Encode a batch of images (``lengths`` is ignored: every cell of the grid is valid).

        Returns:
            The :class:`Memory` the decoder reads: the grid ``(G, B, D)`` (after dropout) and, with
            ``handover="state"``, the initial state from its mean.
        """
        grid = self.drop(self.grid(images))  # (G, B, D)
        G, B, _ = grid.shape
        mask = torch.ones(G, B, dtype=torch.bool, device=grid.device)
        zero = self.decoder.init_state(B, grid.device, grid.dtype)
        state = zero if self.config.handover == "input" else self.bridge(grid.mean(dim=0), zero)
        return self.memory_of(grid, mask, state)

    def start(self, memory: Memory) -> DecoderState:
        """The decoder's state before ``<s>``: with ``handover="input"``, after reading the image."""
        state = super().start(memory)
        if self.config.handover != "input":
            return state
        x = self.drop(self.image_input(memory.outputs.mean(dim=0))).unsqueeze(0)  # (1, B, E)
        if state.feed is not None:
            x = torch.cat([x, state.feed.unsqueeze(0)], dim=-1)
        _, rnn = self.decoder(x, state.rnn)
        return DecoderState(rnn, state.feed)

    def forward(self, images: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor | None]:
        """Teacher forcing: logits ``(T, B, V)`` of the next word after each of ``tgt_in`` ``(T, B)``
        (``<s>`` then the caption but its last word), and the attention ``(T, B, G)`` or ``None``."""
        memory = self.encode(images)
        logits, _, weights = self.decode(tgt_in, self.start(memory), memory)
        return logits, weights

    @torch.no_grad()
    def refresh_statistics(self, batches: Iterable[Tensor]) -> int:
        """Recompute the encoder's batch-normalisation statistics as the plain mean over ``batches``
        of training images (Wu & Johnson 2021, "Rethinking 'Batch' in BatchNorm", §3: "precise"
        statistics). Training keeps a moving average of recent batches' statistics, which lags and
        is noisy; a net of sparse images (a few digits on black) is so sensitive to them that the
        moving average can take a model from 0.08 to 0.8 nats a word in evaluation. Nothing random
        is drawn. Returns the number of normalisation layers refreshed (0: nothing to do)."""
        norms = [m for m in self.encoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not norms:
            return 0
        was = [(m.training, m.momentum) for m in norms]
        kept = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the batches given
            m.train()
        try:
            for images in batches:
                if images.dtype == torch.uint8:
                    images = images.float() / 255.0
                self.encoder(images)
        except BaseException:  # interrupted or failed: the statistics it had
            for m, (mean, var, count) in zip(norms, kept):
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(count)
            raise
        finally:
            for m, (training, momentum) in zip(norms, was):
                m.train(training)
                m.momentum = momentum
        return len(norms)

    def grid_shape(self, height: int, width: int | None = None) -> tuple[int, int]:
        """``(h, w)`` of the grid of an image of ``height`` x ``width`` pixels (square if no ``width``)."""
        shape = self._probe(height, height if width is None else width)
        return int(shape[2]), int(shape[3])

    @torch.no_grad()
    def _probe(self, height: int, width: int) -> torch.Size:
        """The shape of the encoder's output for one blank image (in eval mode, on its device)."""
        first = next(self.encoder.parameters(), None)
        device, dtype = (first.device, first.dtype) if first is not None else (None, torch.float32)
        was = self.encoder.training
        self.encoder.eval()
        try:
            return self.encoder(torch.zeros(1, 3, height, width, device=device, dtype=dtype)).shape
        finally:
            self.encoder.train(was)
