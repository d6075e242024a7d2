"""The study's configurations, and the recommended run they chose."""

from __future__ import annotations

from animerec.finetune import RECOMMENDED, FinetuneSettings


def test_the_recommended_run_is_the_study_winner(es):
    """RECOMMENDED is ad384-rare (docs/experiments.md): same settings, same pairs."""
    winner = es.FOLD_RECIPES["ad384-rare"]("train")["settings"]
    assert winner == RECOMMENDED


def test_study_runs_spell_out_their_method_and_length(es):
    """The study's runs must not move when the library's defaults do."""
    full = es.CONFIGS["ease128"]["settings"]
    assert (full.method, full.max_seq_length, full.max_steps) == ("full", 128, es.STEPS)
    assert (full.pairs.neighbours, full.pairs.hard_negatives) == (3, "none")
    adapter = es.CONFIGS["sel-ad-k10"]["settings"]
    assert (adapter.method, adapter.max_seq_length) == ("adapter", 128)
    assert adapter.pairs == es.K10
    assert all(isinstance(c["settings"], FinetuneSettings) for c in es.CONFIGS.values())
    assert all(c["users"] for c in es.CONFIGS.values())
