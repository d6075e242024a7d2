"""The fitted-model store: fit once on all users, load afterwards, refit when anything changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.errors import AnimerecError
from animerec.recommend import store
from animerec.recommend.ease import EASE
from animerec.recommend.state_files import LEGACY_STATE, STATE_DIR, read_state
from animerec.recommend.store import MANIFEST, fitted, resolve_params, store_path
from animerec.workspace import Workspace, read_json, write_json


def small_workspace(
    root: Path, catalog: Catalog, ratings: Ratings, n_anime: int = 300
) -> Workspace:
    """The sample cut to its first ``n_anime`` anime (fast fits), with an ingest fingerprint."""
    ws = Workspace(root)
    root.mkdir(parents=True)
    frame = catalog.frame.iloc[:n_anime].reset_index(drop=True)
    frame.to_parquet(ws.anime, index=False)
    keep = np.isin(ratings.anime_id, frame["anime_id"].to_numpy())
    r = ratings.take(keep)
    import pandas as pd

    pd.DataFrame({"user_id": r.user_id, "anime_id": r.anime_id, "rating": r.rating}).to_parquet(
        ws.ratings, index=False
    )
    write_json(ws.manifest, {"ingest": {"fingerprint": "small-1"}})
    return ws


@pytest.fixture()
def ws(tmp_path: Path, sample_catalog: Catalog, sample_ratings: Ratings) -> Workspace:
    return small_workspace(tmp_path / "ws", sample_catalog, sample_ratings)


HIST = [History.of([1, 19, 30], [10, 9, 8])]


def test_second_call_loads_the_saved_fit(ws: Workspace) -> None:
    before = store.fit_count
    first = fitted(ws, "popularity")
    assert store.fit_count == before + 1
    saved = list((ws.models_dir / "recommenders").iterdir())
    assert len(saved) == 1 and (saved[0] / MANIFEST).exists()
    state = saved[0] / "model" / "state" / "fans.npy"
    mtime = state.stat().st_mtime_ns
    second = fitted(ws, "popularity")
    assert store.fit_count == before + 1  # loaded, not fitted
    assert state.stat().st_mtime_ns == mtime
    assert [r.anime_id for r in second.recommend(HIST, 5)[0]] == [
        r.anime_id for r in first.recommend(HIST, 5)[0]
    ]
    manifest = read_json(saved[0] / MANIFEST)
    assert manifest["data_fingerprint"] == "small-1" and manifest["model"] == "popularity"
    assert manifest["n_users"] == len(Ratings.read(ws.ratings).users)


def test_refits_when_the_data_changes(ws: Workspace) -> None:
    fitted(ws, "popularity")
    before = store.fit_count
    write_json(ws.manifest, {"ingest": {"fingerprint": "small-2"}})  # a new ingest
    fitted(ws, "popularity")
    assert store.fit_count == before + 1
    assert len(list((ws.models_dir / "recommenders").iterdir())) == 2
    # Without an ingest fingerprint the key falls back to a hash of the data itself.
    write_json(ws.manifest, {})
    fitted(ws, "popularity")
    fitted(ws, "popularity")
    assert store.fit_count == before + 2


def test_params_and_cached_tuning_decide_the_fit(ws: Workspace) -> None:
    assert resolve_params(ws, "popularity")["min_rating"] == 9  # the default
    write_json(
        ws.sub("tuning", "popularity.json"), {"model": "popularity", "best": {"min_rating": 8}}
    )
    assert resolve_params(ws, "popularity")["min_rating"] == 8  # evaluate's tuning
    assert resolve_params(ws, "popularity", {"min_rating": 10})["min_rating"] == 10
    before = store.fit_count
    model = fitted(ws, "popularity")
    assert model.params.min_rating == 8 and store.fit_count == before + 1
    # Several cached settings of one model: the entry whose other parameters match applies.
    entry = {"settings": {"base": {"min_rating": 7, "graded": True, "min_item_raters": 3}}}
    write_json(
        ws.sub("tuning", "ease.json"),
        {
            "model": "ease",
            "entries": {
                "a": {**entry, "best": {"l2": 250.0, "popularity_discount": 0.4}},
                "b": {"settings": {"base": {"graded": False}}, "best": {"l2": 2000.0}},
            },
        },
    )
    assert resolve_params(ws, "ease")["l2"] == 250.0
    assert resolve_params(ws, "ease", {"graded": False})["l2"] == 2000.0
    assert resolve_params(ws, "ease", {"min_item_raters": 5})["l2"] == EASE.Params().l2
    fitted(ws, "popularity", {"min_rating": 10})
    assert store.fit_count == before + 2


def test_errors_name_the_problem(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(AnimerecError, match="unknown model 'nope'"):
        fitted(ws, "nope")
    with pytest.raises(AnimerecError, match="no parameter l3"):
        fitted(ws, "ease", {"l3": 1.0})
    with pytest.raises(AnimerecError, match="takes no embedder"):
        fitted(ws, "ease", embedder="minilm")
    with pytest.raises(AnimerecError, match="no ingested data"):
        fitted(Workspace(tmp_path / "empty"), "popularity")


def test_a_damaged_saved_model_is_fitted_again(ws: Workspace) -> None:
    fitted(ws, "popularity")
    (target,) = (ws.models_dir / "recommenders").iterdir()
    (target / "model" / "state" / "fans.npy").write_bytes(b"not an array")
    before = store.fit_count
    model = fitted(ws, "popularity")
    assert store.fit_count == before + 1 and len(model.recommend(HIST, 3)[0]) == 3


def test_content_and_hybrid_round_trip(ws: Workspace, tiny_model_dir: Path) -> None:
    emb = str(tiny_model_dir)
    content = fitted(ws, "content", embedder=emb)
    before = store.fit_count
    again = fitted(ws, "content", embedder=emb)
    assert store.fit_count == before
    np.testing.assert_allclose(again.score(HIST), content.score(HIST), atol=1e-6)

    params = {"members": ["ease", "ease/graded", "content"], "debias": [0.0, 0.5]}
    hybrid = fitted(ws, "hybrid", params, embedder=emb)
    assert hybrid.members["content"].params.embedder == emb
    graded = hybrid.members["ease/graded"].params  # a second EASE, set by member_params
    assert graded.min_rating == 8 and graded.graded
    assert hybrid.weights.shape == (5,)  # 3 members, quality, popularity
    loaded = fitted(ws, "hybrid", params, embedder=emb)
    assert store.fit_count == before + 1
    np.testing.assert_allclose(loaded.weights, hybrid.weights)
    assert loaded.alpha == hybrid.alpha
    np.testing.assert_allclose(loaded.score(HIST), hybrid.score(HIST), atol=1e-5)
    a = hybrid.recommend(HIST, 5)[0]
    b = loaded.recommend(HIST, 5)[0]
    assert [r.anime_id for r in a] == [r.anime_id for r in b]
    assert [r.reason for r in a] == [r.reason for r in b] and all(r.reason for r in a)
    key_dir = store_path(
        ws,
        "hybrid",
        read_json(
            next(
                d / MANIFEST
                for d in (ws.models_dir / "recommenders").iterdir()
                if d.name.startswith("hybrid")
            )
        )["key"],
    )
    assert key_dir.exists()


def _as_legacy_npz(model_dir: Path) -> None:
    """Turn a saved model into what Recommender.save wrote before the .npy layout."""
    arrays = {k: np.array(v) for k, v in read_state(model_dir).items()}
    np.savez(model_dir / LEGACY_STATE, **arrays)
    shutil.rmtree(model_dir / STATE_DIR)


def test_a_fit_saved_as_state_npz_is_served_and_rewritten_once_as_mapped_npy(ws: Workspace):
    first = fitted(ws, "ease")
    (target,) = (ws.models_dir / "recommenders").iterdir()
    _as_legacy_npz(target / "model")
    before, notes = store.fit_count, []
    again = fitted(ws, "ease", log=notes.append)
    assert store.fit_count == before  # no refit
    assert (target / "model" / STATE_DIR).is_dir() and not (
        target / "model" / LEGACY_STATE
    ).exists()
    assert isinstance(again.B, np.memmap) and any("rewrote" in n for n in notes)
    np.testing.assert_allclose(again.score(HIST), first.score(HIST), rtol=1e-6)
    third = fitted(ws, "ease")
    assert isinstance(third.B, np.memmap) and store.fit_count == before


def test_an_unwritable_old_fit_still_serves_from_memory(ws: Workspace, monkeypatch) -> None:
    first = fitted(ws, "ease")
    (target,) = (ws.models_dir / "recommenders").iterdir()
    _as_legacy_npz(target / "model")

    def read_only(self, path):
        raise PermissionError(f"read-only: {path}")

    monkeypatch.setattr(EASE, "save", read_only)
    notes: list[str] = []
    again = fitted(ws, "ease", log=notes.append)
    assert not isinstance(again.B, np.memmap) and (target / "model" / LEGACY_STATE).exists()
    assert any("could not be rewritten" in n for n in notes)
    np.testing.assert_allclose(again.score(HIST), first.score(HIST), rtol=1e-6)
