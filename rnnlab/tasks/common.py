"""What the tasks share: reading the sections of old runs, the data options of the classifier and the
tagger, and their passes over the data."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from rnnlab import checks
from rnnlab.configs import check_fields
from rnnlab.data.batching import bucket_batches
from rnnlab.data.corpora import DataError
from rnnlab.data.labelled import check_class_sizes, check_labels, stratified_split
from rnnlab.train.options import OptimConfig, RunConfig
from rnnlab.train.task import Task


def legacy_sections(data_cls: type | None) -> dict[str, tuple[str, ...]]:
    """Section name -> its field names, to read a run of an earlier version (whose training fields
    were one flat object) with :func:`rnnlab.runs.read_config`."""
    classes = {"optim": OptimConfig, "run": RunConfig, **({"data": data_cls} if data_cls else {})}
    return {name: tuple(f.name for f in dataclasses.fields(cls)) for name, cls in classes.items()}


@dataclass
class TextDataConfig:
    """What the classifier and the tagger share: where the examples are and how words are looked up."""

    data: str = field(default="", metadata={"help": "a named data set or a file (see the task's list)"})
    val_data: str = field(default="", metadata={"help": "validation file; '' = split it off the training data"})
    test_data: str = field(default="", metadata={"help": "test file; '' = split it off (or the named set's own)"})
    val_fraction: float = field(default=0.1, metadata={"help": "share held out for validation"})
    test_fraction: float = field(default=0.1, metadata={"help": "share held out for testing"})
    min_freq: int = field(default=1, metadata={"help": "words seen fewer times in training read as <unk>"})
    max_vocab: int = field(default=0, metadata={"help": "at most this many words (0 = no limit)"})
    lowercase: bool = field(default=True, metadata={"help": "look words up lowercased"})

    def validate(self) -> None:
        check_fields(self)
        if not self.data:
            checks.fail("data", "a named data set or a file", "nothing (give --data)")
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0 < value < 0.5:
                checks.fail(name, "a share between 0 and 0.5", value)
        checks.positive_int("min_freq", self.min_freq)
        checks.non_negative_int("max_vocab", self.max_vocab)


def split_labelled(examples: list, data: TextDataConfig, seed: int, read: Callable[[str], list]) -> dict[str, list]:
    """Training, validation and test examples of labelled ``examples`` (anything with a ``label``):
    the validation and test files of ``data`` read by ``read`` where given, else split off
    (stratified, seeded: the test split with ``seed``, then validation with ``seed + 1``), so the
    classifier and the tree task split the same data alike.

    Raises:
        DataError: too many classes for the rows (:func:`~rnnlab.data.labelled.check_class_sizes`),
            fewer than two training labels, labels only validation or test have, or an empty split.
    """
    check_class_sizes(
        examples, [s for s, given in (("validation", data.val_data), ("test", data.test_data)) if not given]
    )
    if data.test_data:
        test = read(data.test_data)
    else:
        examples, test = stratified_split(examples, data.test_fraction, seed)
    if data.val_data:
        val = read(data.val_data)
    else:
        share = data.val_fraction if data.test_data else data.val_fraction / (1 - data.test_fraction)  # of the whole
        examples, val = stratified_split(examples, share, seed + 1)
    if len({e.label for e in examples}) < 2:
        raise DataError(f"data: the training examples have {len({e.label for e in examples})} label; need 2 or more")
    check_labels(examples, val, "val_data" if data.val_data else "validation split")
    check_labels(examples, test, "test_data" if data.test_data else "test split")
    for name, split in (("validation", val), ("test", test)):
        if not split:
            raise DataError(
                f"data: the {name} split is empty; only a class of 3 or more rows appears in training, "
                "validation and test"
            )
    return {"train": examples, "val": val, "test": test}


class EpochBatches:
    """Passes over examples in batches of similar length (:func:`~rnnlab.data.batching.bucket_batches`).

    Pass ``e`` is shuffled by a generator of its own, seeded by ``(seed, e)``, and batch ``k`` of it
    gets one seeded by ``(seed, e, k)`` for its own random choices (word dropout), so the number of
    batches served (``position``) is all that an exact resume needs.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int) -> None:
        self.lengths, self.batch_size, self.seed = lengths, batch_size, seed
        self.per_epoch = len(bucket_batches(lengths, batch_size, random.Random(0)))
        self.position = 0
        self._epoch: int | None = None
        self._order: list[list[int]] = []

    def __len__(self) -> int:
        return self.per_epoch

    def next(self) -> tuple[list[int], random.Random]:
        """The next batch's example indices, and a generator for that batch alone."""
        epoch, k = divmod(self.position, self.per_epoch)
        if epoch != self._epoch:
            self._order = bucket_batches(self.lengths, self.batch_size, random.Random(f"{self.seed}:{epoch}"))
            self._epoch = epoch
        self.position += 1
        return self._order[k], random.Random(f"{self.seed}:{epoch}:{k}")


class PassTask(Task):
    """What the classifier and the tagger share: passes over their examples (:class:`EpochBatches`,
    whose position is their whole state), a ``data`` section, and validation scores named ``val_*``."""

    batches: EpochBatches
    data: TextDataConfig

    @property
    def batches_per_epoch(self) -> int:
        return len(self.batches)

    def state_dict(self) -> tuple[dict, dict]:
        return {}, {"position": self.batches.position}

    def load_state_dict(self, tensors: dict, info: dict) -> None:
        self.batches.position = int(info.get("position", 0))

    def sections(self) -> dict:
        return {"model": self.model.config, "data": self.data}

    def new_model(self) -> nn.Module:
        return type(self.model)(self.model.config)

    @staticmethod
    def validation(scores: dict) -> dict[str, float]:
        """The scalar scores, named as validation scores (no per-class table or matrix)."""
        return {f"val_{k}": v for k, v in scores.items() if isinstance(v, (int, float))}
