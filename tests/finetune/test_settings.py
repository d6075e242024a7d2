"""Fine-tuning settings: validation, per-method defaults, and the one recommended run."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from animerec.errors import AnimerecError
from animerec.finetune import RECOMMENDED, FinetuneSettings, PairSettings
from animerec.finetune.settings import check_model_name


def test_bad_settings_are_refused():
    with pytest.raises(AnimerecError, match="unknown loss"):
        FinetuneSettings(loss="triplet")
    with pytest.raises(AnimerecError, match="cached MNRL"):
        FinetuneSettings(loss="cosine", mini_batch_size=4)
    with pytest.raises(AnimerecError, match="max_steps"):
        FinetuneSettings(max_steps=0)


def test_method_defaults():
    full, adapter = FinetuneSettings(method="full"), FinetuneSettings(method="adapter")
    assert (full.epochs, full.batch_size, full.learning_rate) == (1.0, 32, 5e-5)
    assert (adapter.epochs, adapter.batch_size, adapter.learning_rate) == (30.0, 256, 1e-3)
    assert FinetuneSettings(method="adapter", batch_size=64).batch_size == 64
    with pytest.raises(AnimerecError, match="unknown method"):
        FinetuneSettings(method="lora")


def test_the_library_default_is_the_recommended_run():
    """The study's winner (scripts/main.sh's line before the defaults were one): --method adapter
    --recipe ease --neighbours 10 --loss mnrl --max-seq-length 384 --hard-negatives rare."""
    assert FinetuneSettings() == RECOMMENDED
    r = RECOMMENDED
    assert (r.method, r.loss, r.max_seq_length, r.base) == ("adapter", "mnrl", 384, "minilm")
    assert (r.pairs.recipe, r.pairs.neighbours, r.pairs.hard_negatives) == ("ease", 10, "rare")
    assert (r.epochs, r.batch_size, r.learning_rate) == (30.0, 256, 1e-3)


def test_run_settings_are_every_field_but_the_pairs():
    """The manifest keeps its shape: ``settings`` without the pairs, which are its ``recipe``."""
    s = FinetuneSettings(method="full", pairs=PairSettings(recipe="book"))
    want = asdict(s)
    del want["pairs"]
    assert s.run_settings() == want
    assert list(s.run_settings()) == list(want)


@pytest.mark.parametrize("name", ["minilm", "../evil", "", ".hidden"])
def test_bad_model_names_are_refused(name):
    with pytest.raises(AnimerecError):
        check_model_name(name)
    assert check_model_name("anime-minilm") == "anime-minilm"


def test_the_backend_is_checked_and_only_for_adapters():
    assert FinetuneSettings().backend == "torch"
    assert FinetuneSettings(backend="onnx-int8").backend == "onnx-int8"
    with pytest.raises(AnimerecError, match="unknown embedder backend 'int4'"):
        FinetuneSettings(backend="int4")
    with pytest.raises(AnimerecError, match="applies to --method adapter"):
        FinetuneSettings(method="full", backend="onnx-int8")
