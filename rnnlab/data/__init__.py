"""Data: vocabularies, named corpora and truncated-BPTT batches."""

from rnnlab.data.corpora import CORPORA, DataError, load_corpus
from rnnlab.data.stream import StreamBatches, split_text
from rnnlab.data.vocab import CharVocab

__all__ = ["CORPORA", "CharVocab", "DataError", "StreamBatches", "load_corpus", "split_text"]
