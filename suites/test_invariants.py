"""Properties every embedding model should have, checked with hypothesis on the real model.

An embedding must not depend on which other sentences share its batch, on
their order, or on the call; duplicates must get identical rows; normalised
models must return unit vectors; and no input (empty, far beyond the maximum
length, any script or emoji) may crash or give a non-finite vector.

Tolerances are per precision, measured on all-MiniLM-L6-v2 (largest
difference between a sentence encoded alone and in a batch of 7): fp32 2.5e-7;
bf16 3e-3 (bf16 keeps 8 bits of mantissa); int8 7.7e-2, because dynamic
quantization scales activations per batch, so int8 embeddings really do
depend on the batch.  Example counts suit a CPU CI run.
"""

from __future__ import annotations

import numpy as np
import pytest

# hypothesis is an extra, not a dependency: its pytest plugin would cost every pytest run in the environment
INSTALL = 'pip install "pytest-embedeval[invariants]"'
pytest.importorskip("hypothesis", reason=f"the invariants suite needs hypothesis: {INSTALL}")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

TOLERANCE = {"fp32": 1e-5, "fp16": 1e-2, "bf16": 1e-2, "int8": 0.15}
SAMPLES = [
    "A man is playing a guitar.",
    "",
    "مرحبا بالعالم، كيف حالك اليوم؟",  # Arabic, right to left
    "שלום עולם, מה שלומך?",  # Hebrew, right to left
    "猫がソファの上で寝ている。",
    "😀🚀 emoji-only 👍🏽 and a zero\u200bwidth space",
    "Café naïve résumé — combining e\u0301 accents",
]
# the model is loaded once per session and holds no per-example state
EXAMPLES = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
sentences = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
batches = st.lists(st.one_of(sentences, st.sampled_from(SAMPLES)), min_size=2, max_size=6)


def encode(model, texts, batch_size=None):
    vectors = model.encode(list(texts), batch_size=batch_size or max(len(texts), 1), show_progress_bar=False,
                           convert_to_numpy=True)
    return np.asarray(vectors, dtype=np.float64)


def unit(vectors):
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def assert_close(a, b, target, what):
    worst = float(np.abs(unit(a) - unit(b)).max())
    tolerance = TOLERANCE[target.dtype]
    assert worst <= tolerance, f"{what}: embeddings differ by {worst:.2e} > {tolerance:g} ({target.id})"


@EXAMPLES
@given(texts=batches)
def test_batch_size_does_not_change_embeddings(embed_model, embed_target, texts):
    together = encode(embed_model, texts)
    alone = np.vstack([encode(embed_model, [text], batch_size=1) for text in texts])
    assert_close(together, alone, embed_target, "alone vs in one batch")


@EXAMPLES
@given(data=st.data(), texts=batches)
def test_batch_order_does_not_change_embeddings(embed_model, embed_target, data, texts):
    order = data.draw(st.permutations(range(len(texts))))
    shuffled = encode(embed_model, [texts[i] for i in order])
    restored = np.empty_like(shuffled)
    restored[list(order)] = shuffled
    assert_close(encode(embed_model, texts), restored, embed_target, f"batch order {order}")


@EXAMPLES
@given(texts=batches)
def test_encoding_is_deterministic(embed_model, embed_target, texts):
    assert_close(encode(embed_model, texts), encode(embed_model, texts), embed_target, "two identical calls")


@EXAMPLES
@given(text=st.one_of(sentences, st.sampled_from(SAMPLES)), copies=st.integers(2, 4))
def test_duplicates_get_identical_rows(embed_model, embed_target, text, copies):
    vectors = encode(embed_model, [text] * copies + ["another sentence"])
    for row in vectors[1:copies]:
        assert_close(vectors[:1], row[None], embed_target, "duplicates in one batch")


@EXAMPLES
@given(texts=batches)
def test_every_input_gives_a_finite_vector(embed_model, texts):
    vectors = encode(embed_model, texts)
    assert vectors.shape[0] == len(texts) and np.isfinite(vectors).all()


def test_normalised_models_return_unit_vectors(embed_model, embed_target):
    if not any(type(module).__name__ == "Normalize" for module in embed_model):
        pytest.skip(f"{embed_target.id} has no Normalize module: its vectors need not be unit length")
    norms = np.linalg.norm(encode(embed_model, SAMPLES), axis=1)
    assert np.allclose(norms, 1.0, atol=TOLERANCE[embed_target.dtype]), norms


def test_long_input_is_truncated_not_a_crash(embed_model, embed_target, record_property):
    limit = embed_model.max_seq_length
    words = " ".join(f"word{i}" for i in range(4 * limit))
    tokens = len(embed_model.tokenizer(words)["input_ids"])
    record_property("truncated_tokens", tokens - limit)  # reported in JUnit, and below on failure
    long, longer = encode(embed_model, [words, words + " and many more words after the limit"])
    assert np.isfinite(long).all()
    # everything past the limit is cut, so appending there changes nothing
    assert_close(long[None], longer[None], embed_target, f"{tokens} tokens truncated to {limit}")
