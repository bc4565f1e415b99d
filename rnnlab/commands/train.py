"""``rnnlab train``: train a language model (``--task lm``, the default), a text classifier
(``--task classify``), a sequence tagger (``--task tag``), an encoder-decoder (``--task
seq2seq``), an image captioner (``--task caption``) or a classifier over trees (``--task tree``); or
``--resume OUT``, any run.

``--task classify``: many to one. ``--data`` is a CSV or TSV file with a header row (label and
text columns, named by ``--label-column`` / ``--text-column``) or a named set: pang-lee (4,000
movie-review sentences, positive / negative), pang-lee-reviews (1,500 whole reviews), tweets
(38,158 tweets, negative / neutral / positive). Prints validation scores each epoch, then the
test accuracy and macro-F1 of the best weights next to a TF-IDF + logistic regression baseline.

``--task tag``: many to many. ``--data`` is a CoNLL file (a token and its tag column(s) a line, a
blank line between sentences), a file of ATIS-format utterances (``word:TAG ... <=> intent`` a
line), or a named set: conll2003 (named entities), conll2003-pos, conll2003-chunk, atis (airline
travel queries: slots and intents). Prints entity precision, recall and F1 (CoNLL's scoring) each
epoch, then on test.

``--task seq2seq``: many to many without alignment. ``--data`` is a TSV with a header row (source and
target columns, named by ``--source-column`` / ``--target-column``), two line-aligned files given
as SOURCE,TARGET (``--data train.en,train.es``), or a named set: bible-en-es (the King James Bible and
the Reina-Valera 1909, verse by verse), dates (dates in many formats and languages to ISO 8601),
addition ("535+61" to "596"). Prints validation loss, BLEU, chrF and exact match each epoch, then
the test scores of the best weights with a beam and BLEU by source length.

``--task caption``: one to many, images to captions. ``--data`` is a folder of images with a
captions file (Flickr8k's ``image,caption`` lines or ``name#k<TAB>caption``, or COCO's captions
JSON; several captions an image) or a named set: digit-scenes (2 to 4 MNIST digits on a canvas,
captioned by a grammar, with held-out digit combinations), emoji (1,911 emoji drawings and their
Unicode names). ``--attention soft`` attends over the image grid at every word (Show, Attend and
Tell), ``--attention none`` hands the image over once (Show and Tell). Prints validation loss,
BLEU-4 and exact match each epoch, with a few test images captioned, then the test scores.

``--task tree``: trees to labels. ``--data`` is a named set: listops (nested list operations with
their gold trees), pang-lee and tweets (their sentences parsed into dependency trees), python-ast
(the syntax tree of a function's body, its number of parameters to tell); or a file of
``LABEL<TAB>(bracketed tree)`` lines, or a CoNLL-U file with a ``# label = ...`` comment per
sentence. ``--cell tree-lstm`` (Child-Sum), ``binary-tree-lstm`` or ``tree-rnn`` runs over the
trees, a level at a time; a sequence cell (``--cell lstm``) reads the tokens instead, the baseline.
``--node-labels`` also learns the label of every node. Prints validation accuracy each epoch,
then test accuracy by tree height next to a TF-IDF + logistic regression baseline.

Use a classifier with ``rnnlab predict OUT "text"``, a tagger with ``rnnlab tag OUT "a sentence"``,
a seq2seq model with ``rnnlab translate OUT "a sentence"``, a captioner with ``rnnlab caption
OUT image.png`` and a tree classifier with ``rnnlab tree OUT "(MAX 2 9 (MIN 4 7) 0)"``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Collection
from pathlib import Path

from rnnlab.commands.common import Parser, UsageError, path_arg
from rnnlab.commands.parallel import add_nproc, run_parallel
from rnnlab.commands.reports import finish
from rnnlab.configs import add_flags, from_args, given_fields, validate_before_data
from rnnlab.data.corpora import ARG_CORPORA
from rnnlab.models.captioner import CaptionConfig
from rnnlab.models.classifier import ClassifierConfig
from rnnlab.models.language_model import ModelConfig
from rnnlab.models.seq2seq import Seq2SeqConfig
from rnnlab.models.tagger import TaggerConfig
from rnnlab.models.tree import TreeModelConfig
from rnnlab.tasks import (
    CaptionTask,
    ClassifyTask,
    LanguageModelTask,
    Seq2SeqTask,
    TagTask,
    TreeTask,
    read_run,
    resume,
)
from rnnlab.tasks.caption import CaptionDataConfig
from rnnlab.tasks.classify import ClassifyConfig
from rnnlab.tasks.lm import LMDataConfig
from rnnlab.tasks.seq2seq import Seq2SeqDataConfig
from rnnlab.tasks.tag import TagConfig
from rnnlab.tasks.tree import TreeDataConfig
from rnnlab.train.options import TASK_DEFAULTS, OptimConfig, RunConfig, options
from rnnlab.train.precision import check_precision
from rnnlab.train.progress import Progress
from rnnlab.train.trainer import Trainer

#: --task -> (task, model config, data config, the model's sizes that the data fix)
KINDS = {
    "lm": (LanguageModelTask, ModelConfig, LMDataConfig, ("vocab_size",)),
    "classify": (ClassifyTask, ClassifierConfig, ClassifyConfig, ("vocab_size", "num_classes")),
    "tag": (TagTask, TaggerConfig, TagConfig, ("vocab_size", "num_chars", "num_tags", "num_intents")),
    "seq2seq": (Seq2SeqTask, Seq2SeqConfig, Seq2SeqDataConfig, ("source_vocab", "target_vocab")),
    "caption": (CaptionTask, CaptionConfig, CaptionDataConfig, ("vocab_size",)),
    "tree": (TreeTask, TreeModelConfig, TreeDataConfig, ("vocab_size", "num_classes")),
}
VOCAB_FLAGS = (
    "level",
    "tokenizer",
    "max_vocab",
    "min_freq",
    "tokens",
    "vocab_size",
)  # the saved vocabulary is kept on resume


def add_options(p: argparse.ArgumentParser, kind: str, varies: Collection[str] = ()) -> argparse._ArgumentGroup:
    """The optimisation and run groups of flags (with ``kind``'s defaults); returns the run group."""
    add_flags(p.add_argument_group("optimisation"), OptimConfig, defaults=TASK_DEFAULTS[kind], varies=varies)
    group = p.add_argument_group("run")
    add_flags(group, RunConfig, defaults=TASK_DEFAULTS[kind], varies=varies)
    return group


def build(p: argparse.ArgumentParser, kind: str) -> argparse.ArgumentParser:
    """The flags of ``rnnlab train --task KIND``, grouped by model, data, optimisation and run."""
    _, model_cls, data_cls, sizes = KINDS[kind]
    p.add_argument(
        "--task",
        choices=tuple(KINDS),
        default="lm",
        help="lm: a language model; classify: texts to labels; tag: a tag per token; seq2seq: texts to texts; "
        "caption: images to texts; tree: trees to labels "
        "(see rnnlab train --task classify --help, --task tag --help, ...)",
    )
    add_flags(p.add_argument_group("model"), model_cls, skip=sizes)
    add_flags(p.add_argument_group("data"), data_cls)
    group = add_options(p, kind)
    group.add_argument("--out", type=path_arg, default=None, help="run directory (default: runs/<data name>)")
    group.add_argument("--resume", type=path_arg, default=None, metavar="OUT", help="continue the run in OUT exactly")
    group.add_argument("--force", action="store_true", help="replace a run already in --out")
    add_nproc(group)
    p.set_defaults(func=run)
    return p


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a language model, classifier, tagger, seq2seq model, image captioner or tree classifier",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build(p, "lm")


def _values_of(argv: list[str], flag: str) -> list[str]:
    """The values given to ``flag`` in ``argv`` (``--flag VALUE`` or ``--flag=VALUE``), in order."""
    values = []
    for i, arg in enumerate(argv):
        if arg.startswith(flag + "="):
            values.append(arg.split("=", 1)[1])
        elif arg == flag and i + 1 < len(argv):
            values.append(argv[i + 1])
    return values


def task_of(argv: list[str]) -> str | None:
    """The task of ``rnnlab train --task classify|tag|seq2seq ...`` (else ``None``: the language model)."""
    if argv[:1] != ["train"]:
        return None
    for value in _values_of(argv, "--task"):
        if value in KINDS and value != "lm":
            return value
    return _resumed_kind(argv)


def _resumed_kind(argv: list[str]) -> str | None:
    """The task of the run ``--resume OUT`` names, when it is not a language model, so that its own
    flags parse; ``None`` where there is none to read (the resume then says what is wrong)."""
    given = _values_of(argv, "--resume")
    if not given or not given[-1]:  # the last one counts, as argparse takes it
        return None
    try:
        kind = read_run(Path(given[-1])).kind
    except (OSError, ValueError):  # no run, a damaged one (CheckpointError): said when it is resumed
        return None
    return kind if kind in KINDS and kind != "lm" else None


def parse(argv: list[str]) -> argparse.Namespace | None:
    """Parsed arguments if ``argv`` trains another task than a language model, else ``None``."""
    kind = task_of(argv)
    if kind is None:
        return None
    p = Parser(
        prog=f"rnnlab train --task {kind}", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    args = build(p, kind).parse_args(argv[1:])
    if args.task == "lm":  # not given: the task of the run resumed
        args.task = kind
    return args


def run_name(spec: str) -> str:
    """The default run folder's name for the data ``spec``: ``linux:fs/ext4`` -> ``linux-fs-ext4``
    (a named corpus with its argument), ``~/texts/plays.txt`` -> ``plays``."""
    if spec.partition(":")[0] in ARG_CORPORA:
        return spec.replace(":", "-").replace("/", "-")
    return Path(spec.rstrip("/*")).stem or "run"


def _resume(args: argparse.Namespace, progress: Progress) -> Trainer:
    _, model_cls, data_cls, _ = KINDS[args.task]
    fixed = ((tuple(model_cls.__dataclass_fields__), "architecture"), (VOCAB_FLAGS, "vocabulary"), (("data",), "data"))
    for names, what in fixed:
        given = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n, None) is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: the {what} of a resumed run is fixed")
    kind = read_run(args.resume).kind
    if args.task != "lm" and kind != args.task:  # --task lm is also the default, so given or not
        raise UsageError(f"--task {args.task}: {args.resume} is a {kind} run; give only --resume OUT")
    if args.out is not None and args.out != args.resume:
        raise UsageError("--out: a resumed run stays in its directory; give only --resume OUT")
    trainer = resume(args.resume, given_fields(args, data_cls, OptimConfig, RunConfig), progress)
    return trainer


def run(args: argparse.Namespace) -> int:
    run = read_run(args.resume) if args.resume is not None else None
    kind = run.kind if run is not None else args.task
    parallel = kind in KINDS and KINDS[kind][0].parallel

    def check(nproc: int) -> None:
        given = given_fields(args, OptimConfig, RunConfig)
        optim = run.section("optim", OptimConfig) if run is not None else options(args.task, given)[0]
        KINDS[kind][0].check_processes(optim.batch_size, nproc)

    return run_parallel(args, parallel, kind, lambda progress: _train(args, progress), check)


def _train(args: argparse.Namespace, progress: Progress) -> int:
    if args.resume is not None:
        trainer = _resume(args, progress)
    else:
        task_cls, model_cls, data_cls, sizes = KINDS[args.task]
        model_cfg, data = from_args(model_cls, args), from_args(data_cls, args)
        validate_before_data(model_cfg, sizes)
        optim, opts = options(args.task, given_fields(args, OptimConfig, RunConfig))
        optim.validate()
        opts.validate()
        check_precision(opts.precision, args.task)  # before the data is read
        spec = data.data.split(",")[0] if args.task == "seq2seq" else data.data  # SOURCE,TARGET: the source's name
        name = run_name(spec)
        out = args.out or Path("runs") / (name if args.task == "lm" else f"{args.task}-{name}")
        task = task_cls(model_cfg, data, optim.batch_size, opts.seed)
        trainer = Trainer(task, out, optim, opts, progress, force=args.force)
    sections = {**trainer.task.sections(), "optim": trainer.optim, "run": trainer.cfg}
    progress.log("config: " + json.dumps({k: dataclasses.asdict(v) for k, v in sections.items()}))
    return finish(trainer, progress)
