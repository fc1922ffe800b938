"""The speed gate's yardstick: a fixed workload timed in alternation with the measured model.

Raw times of two runs minutes apart differ by more than the regressions a
gate must see (see ``time_normalised``); a round of the model divided by a
round of the yardstick just before it does not, and it compares across
machines.  The yardstick is a random-weight MiniLM-L6-shaped model with a
tokenizer of our own words, built offline, the same everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from pytest_embedeval.measure.latency import WORDS, make_inputs
from pytest_embedeval.models.zoo import build_random_model

CALIBRATION = "random-minilm-l6, the measured batch shape, v2"  # baselines record which yardstick they used


def calibration_model(folder: Path) -> Path:
    """Build the yardstick: a random-weight MiniLM-L6-shaped model with a tokenizer of our own words."""
    return build_random_model("minilm-l6", folder, seed=0, vocabulary=WORDS)


def calibration_workload(device: str, folder: Path) -> Callable[[int, int], Callable[[], Any]]:
    """``shape(words, batch_size)``: the yardstick model encoding a batch of that shape on ``device``.

    It does what the measured model does, tokenizer and pooling included, on a
    batch of the same size and input length, so host contention, frequency
    scaling and cache pressure hit both alike (a fixed small batch did not: its
    time shifted by up to 10% between runs next to a batch of 32, with the
    model's own time unchanged).  It needs no download and is the same
    everywhere, so it also tells one machine's speed from another's.
    """
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device=device)

    def shape(words: int, batch_size: int) -> Callable[[], Any]:
        texts = make_inputs(words, batch_size, seed=1)
        return lambda: model.encode(texts, batch_size=batch_size, show_progress_bar=False)

    return shape
