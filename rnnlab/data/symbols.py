"""The ids every sequence-to-sequence vocabulary reserves, in this order, before its own tokens."""

PAD = 0  # fills a batch past a sequence's end; attention and the loss ignore it
BOS = 1  # starts every target: the decoder's first input
EOS = 2  # ends every target: decoding stops when it is produced
UNK = 3  # a token the vocabulary does not hold

SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")
