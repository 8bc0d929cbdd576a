"""The text source's default corpus, apart from the source itself (which needs torch) so that the config can name
it as a default without a heavy import."""

DEFAULT_CORPUS = "allenai/c4"
# Only the first shard of C4's English training split is read, as in the SparseGPT and Wanda reference code.
C4_FILES = {"train": "en/c4-train.00000-of-01024.json.gz"}
