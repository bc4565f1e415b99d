"""Score a tagger run's test predictions with the seqeval package too (it must give the same F1).

.venv/bin/python benchmarks/seqeval_check.py runs/conll2003
"""

import json
import sys
from pathlib import Path

from seqeval.metrics import f1_score, precision_score, recall_score

from rnnlab.runs import read_config
from rnnlab.tasks.tag import TagConfig, load_splits, load_tagger
from rnnlab.tasks.tag_scores import predict_tags
from rnnlab.train import RunConfig

out = Path(sys.argv[1])
model, encoder = load_tagger(out)
run = read_config(out, "tag")
test = load_splits(run.section("data", TagConfig), run.section("run", RunConfig).seed)["test"]  # the run's own split
gold = [list(s.tags) for s in test]
pred = predict_tags(model, encoder, [s.tokens for s in test])
ours = json.loads((out / "results.json").read_text())["test"]
print(f"seqeval: P {precision_score(gold, pred):.4f}  R {recall_score(gold, pred):.4f}  F1 {f1_score(gold, pred):.4f}")
print(f"rnnlab:  P {ours['precision']:.4f}  R {ours['recall']:.4f}  F1 {ours['f1']:.4f}")
