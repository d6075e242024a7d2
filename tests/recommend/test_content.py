"""The content recommender: the book's neighbour counting, worked out by hand on 2-D vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.errors import AnimerecError
from animerec.recommend.content import TIE_SCALE, ContentRecommender, neighbour_table
from animerec.recommend.context import Context

# Seven anime on the unit circle (degrees). Their 2 nearest neighbours, by hand:
#   A0 (0°): A1 cos10=.985, A2 cos20=.940     A1 (10°): A0 .985, A2 .985 (tie: lower index first)
#   A2 (20°): A1 .985, A0 .940                A3 (90°): A4 cos15=.966, A2 cos70=.342
#   A4 (105°): A3 .966, A5 cos75=.259         A5 (180°): A6 cos5=.996, A4 .259
#   A6 (185°): A5 .996, A4 cos80=.174
DEGREES = np.array([0, 10, 20, 90, 105, 180, 185])
VECTORS = np.stack([np.cos(np.radians(DEGREES)), np.sin(np.radians(DEGREES))], axis=1)
IDS = np.arange(1, 8) * 10
EMPTY = Ratings.from_arrays([], [], [])


def cos(deg: float) -> float:
    return float(np.cos(np.radians(deg)))


@pytest.fixture()
def catalog() -> Catalog:
    return Catalog(
        pd.DataFrame(
            {
                "anime_id": IDS,
                "name": [f"A{i}" for i in range(7)],
                "genres": ["Action"] * 7,
                "popularity": np.arange(1, 8),
            }
        )
    )


def model(catalog: Catalog, **params) -> ContentRecommender:
    p = ContentRecommender.Params(neighbours=2, **params)
    return ContentRecommender(p, vectors=VECTORS).fit(EMPTY, catalog)


def test_neighbour_table_by_hand() -> None:
    idx, sim = neighbour_table(VECTORS, 2)
    assert idx.tolist() == [[1, 2], [0, 2], [1, 0], [4, 2], [3, 5], [6, 4], [5, 4]]
    expected = [
        [cos(10), cos(20)],
        [cos(10), cos(10)],
        [cos(10), cos(20)],
        [cos(15), cos(70)],
        [cos(15), cos(75)],
        [cos(5), cos(75)],
        [cos(5), cos(80)],
    ]
    np.testing.assert_allclose(sim, expected, atol=1e-6)
    # Blocks of any size give the same table.
    for block in (1, 3, 100):
        b_idx, b_sim = neighbour_table(VECTORS, 2, block=block)
        np.testing.assert_array_equal(b_idx, idx)
        np.testing.assert_allclose(b_sim, sim, atol=1e-6)


def test_neighbour_table_allowed_restricts_neighbours() -> None:
    allowed = np.array([True, False, True, True, True, True, True])
    idx, _ = neighbour_table(VECTORS, 2, allowed=allowed)
    assert 1 not in idx
    assert idx[0].tolist() == [2, 3]  # A1 is skipped: A2 (20°), then A3 (90°)


def test_book_count_ranking_by_hand(catalog: Catalog) -> None:
    # Promoted: A0 (10) and A3 (9); A5 rated 5 is seen but not a promotion.
    # Neighbour lists: A0 → A1, A2; A3 → A4, A2. Counts: A2 = 2, A1 = 1, A4 = 1.
    # Ties by mean similarity: A1 (.985) before A4 (.966). A6 appears in no list: last.
    h = History.of([10, 40, 60], [10, 9, 5])
    recs = model(catalog).recommend([h], 4)[0]
    assert [r.anime_id for r in recs] == [30, 20, 50, 70]
    mean_a2 = (cos(20) + cos(70)) / 2
    assert recs[0].score == pytest.approx(2 + TIE_SCALE * (1 + mean_a2) / 2, abs=1e-5)
    assert recs[1].score == pytest.approx(1 + TIE_SCALE * (1 + cos(10)) / 2, abs=1e-5)
    assert recs[3].score < 1  # outside every list
    assert recs[0].reason == "because you liked A0"
    assert recs[2].reason == "because you liked A3"


def test_sum_aggregate(catalog: Catalog) -> None:
    h = History.of([10, 40], [10, 10])
    s = model(catalog, aggregate="sum").score([h])[0]
    assert s[2] == pytest.approx(1 + cos(20) + cos(70), abs=1e-5)  # A2: both lists
    assert s[1] == pytest.approx(1 + cos(10), abs=1e-5)
    assert s[6] < 1


def test_min_rating_and_fallback_to_best_rated(catalog: Catalog) -> None:
    m = model(catalog, min_rating=9)
    # No promotion: the best-rated anime (A5, rated 7) stands in, so A6 and A4 lead.
    recs = m.recommend([History.of([10, 60], [4, 7])], 2)[0]
    assert [r.anime_id for r in recs] == [70, 50]
    # Everything rated ≥ 8 counts when min_rating is 8.
    recs8 = model(catalog, min_rating=8).recommend([History.of([10, 60], [8, 8])], 1)[0]
    assert recs8[0].score >= 1


def test_scores_every_item_and_batches_agree(catalog: Catalog) -> None:
    m = model(catalog)
    hs = [History.of([10], [10]), History.of([60, 70], [9, 10]), History.of([], [])]
    batch = m.score(hs)
    assert batch.shape == (3, 7) and np.isfinite(batch).all()
    for i, h in enumerate(hs):
        np.testing.assert_allclose(m.score([h])[0], batch[i])
    assert (batch[2] == 0).all()  # nothing known: all tie


def test_min_item_raters_keeps_unrated_anime_out(catalog: Catalog) -> None:
    train = Ratings.from_arrays([1, 1, 2], [10, 30, 30], [9, 9, 8])
    m = ContentRecommender(
        ContentRecommender.Params(neighbours=2, min_item_raters=1), vectors=VECTORS
    ).fit(train, catalog)
    s = m.score([History.of([10], [10])])[0]
    assert np.isfinite(s[[0, 2]]).all() and np.isinf(s[[1, 3, 4, 5, 6]]).all()


def test_save_and_load_roundtrip(catalog: Catalog, tmp_path: Path) -> None:
    m = model(catalog)
    m.save(tmp_path / "m")
    back = ContentRecommender.load(tmp_path / "m", catalog)
    h = [History.of([10, 40], [10, 9])]
    np.testing.assert_allclose(back.score(h), m.score(h), atol=1e-6)
    assert back.params.neighbours == 2
    other = Catalog(catalog.frame.iloc[:5].reset_index(drop=True))
    with pytest.raises(AnimerecError, match="different catalog"):
        ContentRecommender.load(tmp_path / "m", other)


def test_bad_params() -> None:
    with pytest.raises(AnimerecError, match="aggregate"):
        ContentRecommender(ContentRecommender.Params(aggregate="max"))
    with pytest.raises(AnimerecError, match="neighbours"):
        ContentRecommender(ContentRecommender.Params(neighbours=0))


def test_fits_through_the_embedding_cache(
    sample_catalog: Catalog, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from animerec.embed.cache import EmbeddingCache
    from animerec.embed.local import SentenceTransformerEmbedder
    from animerec.workspace import Workspace

    small = Catalog(sample_catalog.frame.iloc[:40].reset_index(drop=True))
    ws = Workspace(tmp_path / "ws")
    params = ContentRecommender.Params(embedder=str(tiny_model_dir), neighbours=5)
    first = ContentRecommender(params, context=Context(ws)).fit(EMPTY, small)
    assert first.vectors.shape[0] == 40
    name = first.embedder().name
    assert EmbeddingCache(ws).count(name) == 40

    def no_encoding(self, texts, batch_size):
        raise AssertionError("cached descriptions were encoded again")

    monkeypatch.setattr(SentenceTransformerEmbedder, "_encode", no_encoding)
    again = ContentRecommender(params, context=Context(ws)).fit(EMPTY, small)
    np.testing.assert_allclose(again.vectors, first.vectors)
    h = [History.of(small.anime_ids[:3], [10, 9, 10])]
    recs = again.recommend(h, 5)[0]
    assert len(recs) == 5 and recs[0].reason.startswith("because you liked ")


def test_reduce_keeps_dot_products_of_low_rank_vectors() -> None:
    from animerec.recommend.content import reduce

    rng = np.random.default_rng(0)
    v = (rng.normal(size=(50, 3)) @ rng.normal(size=(3, 8))).astype(np.float32)
    r = reduce(v, 3)
    assert r.shape == (50, 3)
    np.testing.assert_allclose(r @ r.T, v @ v.T, rtol=1e-3, atol=1e-3)
    assert reduce(v, 0) is not None and reduce(v, 0).shape == (50, 8)
    assert reduce(v, 8).shape == (50, 8)


def test_a_dislike_sinks_the_disliked_anime_neighbours(catalog: Catalog) -> None:
    """Like A3, and rate A0 a 2 (disliked) or a 6 (neutral): A0's list {A1, A2} loses
    dislike_weight per appearance — A2 (also in A3's list) and A1 (in no liked list) both drop by
    exactly 0.5, nothing else moves."""
    m = model(catalog, dislike_weight=-0.5)
    neutral, disliked = m.score([History.of([40, 10], [10, 6]), History.of([40, 10], [10, 2])])
    diff = disliked - neutral
    np.testing.assert_allclose(diff[[1, 2]], [-0.5, -0.5], rtol=1e-6)
    np.testing.assert_allclose(np.delete(diff, [1, 2]), 0, atol=1e-7)
    plain = model(catalog)
    np.testing.assert_allclose(plain.score([History.of([40, 10], [10, 2])])[0], neutral, atol=0)


def test_a_dislike_only_history_is_never_liked(catalog: Catalog) -> None:
    m = model(catalog, dislike_weight=-0.5)
    h = History.of([10], [2])
    s = m.score([h])[0]
    np.testing.assert_allclose(s, [0, -0.5, -0.5, 0, 0, 0, 0], atol=1e-7)
    recs = m.recommend([h], k=3)
    assert not any("because you liked" in r.reason for r in recs[0])
    plain = model(catalog)  # today: the best-rated title stands in for a liked one
    assert any("because you liked A0" in r.reason for r in plain.recommend([h], k=3)[0])
