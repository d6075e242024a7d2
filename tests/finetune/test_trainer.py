"""The trainer's planning and its data-parallel pieces (no training here: see test_run)."""

from __future__ import annotations

from animerec.finetune import FinetuneSettings
from animerec.finetune.trainer import make_loss, planned_steps, world_size


def test_planned_steps():
    s = FinetuneSettings(batch_size=32, epochs=2)
    assert planned_steps(100, s) == 8
    assert planned_steps(100, FinetuneSettings(batch_size=32, max_steps=3)) == 3
    assert planned_steps(10, FinetuneSettings(batch_size=32, epochs=0.5)) == 1
    # data-parallel: 4 processes each take 32 rows a step, so an epoch of 256 rows is 2 steps
    assert planned_steps(256, FinetuneSettings(batch_size=32, epochs=1), processes=4) == 2


def test_world_size_comes_from_the_launcher(monkeypatch, tiny_model_dir):
    from sentence_transformers import SentenceTransformer

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert world_size() == 1
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert world_size() == 4
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    assert make_loss(model, FinetuneSettings(loss="mnrl"), 4).gather_across_devices
    assert not make_loss(model, FinetuneSettings(loss="mnrl"), 1).gather_across_devices
