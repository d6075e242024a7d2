"""The dislike step of the ranking pipeline, on known answers: what fans who disliked the same
title also disliked moves down, for every model the same way; lists without a dislike do not
move; a list made from dislikes alone still never says "because you liked"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.errors import DataError
from animerec.recommend import Fallback, RankOptions, make_recommender, rank_batch, select
from animerec.recommend.dislikes import (
    SPREAD_DEPTH,
    VALIDATED_STRENGTH,
    DislikeNeighbours,
    _spread,
)
from animerec.recommend.explain import explain

# X is the title a user dislikes. Y is what the fans who disliked X disliked too (users 0-5 rate
# both ≤ 3); Z shares one low rater with X (user 0); the G titles everyone loves; W is watched
# with X by the same users and loved (what a co-watch neighbour would push away wrongly).
X, Y, Z, W = 1, 2, 3, 4
ON = VALIDATED_STRENGTH
G = [10, 11, 12, 13, 14, 15]


def _catalog() -> Catalog:
    ids = [X, Y, Z, W, *G]
    return Catalog(pd.DataFrame({"anime_id": ids, "name": [f"t{a}" for a in ids]}))


def _train() -> Ratings:
    users, items, ratings = [], [], []

    def rate(u, a, r):
        users.append(u), items.append(a), ratings.append(r)

    for u in range(6):  # the X-haters: Y low too, W loved, half the G titles loved
        rate(u, X, 2), rate(u, Y, 3), rate(u, W, 10)
        for g in G[: 3 + u % 3]:
            rate(u, g, 9)
    rate(0, Z, 4)
    for u in range(6, 16):  # everyone else: Y loved (so models rank Y high), the rest so-so
        rate(u, Y, 10), rate(u, W, 7), rate(u, Z, 7 + u % 2)
        for g in G:
            rate(u, g, 7 + u % 3)
    return Ratings.from_arrays(users, items, ratings)


@pytest.fixture()
def data():
    catalog, train = _catalog(), _train()
    return catalog, train, DislikeNeighbours.of(train, catalog)


def test_neighbours_are_the_shared_dislike_cosine(data):
    catalog, _, nb = data
    x, y, z = catalog.positions([X, Y, Z])
    # low (≤ 6) raters: X {0..5}, Y {0..5}, Z {0}: cos(X, Y) = 6/√36 = 1, cos(X, Z) = 1/√6
    row = dict(zip(nb.neighbours[x].tolist(), nb.weights[x].tolist(), strict=True))
    assert row.pop(-1, 0.0) == 0.0
    assert row == pytest.approx({int(y): 1.0, int(z): 1 / np.sqrt(6)})
    assert nb.neighbours[x][0] == y  # strongest first
    w = catalog.positions([W])[0]
    assert w not in nb.neighbours[x]  # loved by the X-haters: never pushed away
    assert (nb.neighbours[catalog.positions(G)] == -1).all()  # nobody rated them low


def test_min_shared_drops_single_user_coincidences():
    catalog, train = _catalog(), _train()
    nb = DislikeNeighbours.of(train, catalog, min_shared=2)
    x, y = catalog.positions([X, Y])
    assert nb.neighbours[x][nb.neighbours[x] >= 0].tolist() == [y]


def test_push_away_lowers_by_strength_times_similarity_times_spread(data):
    catalog, _, nb = data
    x, y, z = catalog.positions([X, Y, Z])
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(3, len(catalog))).astype(np.float32)
    scores[2, 5] = -np.inf
    hists = [History.of([G[0], X], [10, 1]), History.of([G[0]], [10]), History.of([X], [5])]
    before = scores.copy()
    nb.push_away(scores, hists, catalog, 0.5)
    expect = before.copy()
    for i in (0, 2):
        spread = float(
            before[i][np.isfinite(before[i])].max() - before[i][np.isfinite(before[i])].min()
        )
        assert _spread(before[i]) == pytest.approx(spread)  # fewer titles than SPREAD_DEPTH
        expect[i, y] -= 0.5 * spread * 1.0
        expect[i, z] -= 0.5 * spread / np.sqrt(6)
    np.testing.assert_allclose(scores, expect, rtol=1e-6)
    np.testing.assert_array_equal(scores[1], before[1])  # no dislike: untouched
    assert scores[2, 5] == -np.inf
    nb.push_away(scores, hists, catalog, 0.0)  # off
    np.testing.assert_allclose(scores, expect, rtol=1e-6)


def test_spread_reads_the_best_minus_the_depth_th_best():
    row = np.arange(200, dtype=np.float32)
    assert _spread(row) == SPREAD_DEPTH - 1
    assert _spread(np.array([1.0, -np.inf], np.float32)) == 0.0


@pytest.mark.parametrize("name", ["popularity", "itemknn", "ease", "als", "userknn"])
def test_every_model_moves_the_disliked_titles_neighbour_down(data, name):
    """The same step for every model: Y's score falls by exactly strength × cos(X, Y) × the row's
    spread, so Y ends after every title X's haters did not also dislike (W, which they loved,
    keeps its score); a history without a dislike gets the very same list as with the step off."""
    catalog, train, nb = data
    model = make_recommender(name).fit(train, catalog)
    liked = History.of([G[0]], [10])
    with_dislike = History.of([G[0], X], [10, 1])
    hs = [liked, with_dislike]
    off = rank_batch(model, hs, RankOptions(k=8, dislike_strength=0.0))
    on = rank_batch(model, hs, RankOptions(k=8, dislike_strength=1.5), dislikes=nb)
    ids_off, ids_on = off.ids(catalog), on.ids(catalog)
    np.testing.assert_array_equal(ids_on[0], ids_off[0])
    raw = model.score([with_dislike])[0]
    y, w = catalog.positions([Y, W])
    score_on = dict(zip(ids_on[1].tolist(), on.scores[1].tolist(), strict=True))
    assert score_on[Y] == pytest.approx(raw[y] - 1.5 * _spread(raw), rel=1e-5)
    assert score_on[W] == pytest.approx(raw[w], rel=1e-6)
    row_off, row_on = list(ids_off[1]), list(ids_on[1])
    others = [a for a in row_on if a >= 0 and a not in (Y, Z)]
    assert all(row_on.index(Y) > row_on.index(a) for a in others)
    assert row_on.index(Y) >= row_off.index(Y)


def test_a_model_that_ranks_the_neighbour_first_drops_it(data):
    """Known answer on ranks: popularity puts Y (ten fans) first; one dislike of X moves it
    below every title X's haters did not dislike."""
    catalog, train, nb = data
    model = make_recommender("popularity").fit(train, catalog)
    h = [History.of([X], [1])]
    off = rank_batch(model, h, RankOptions(k=7, dislike_strength=0.0)).ids(catalog)[0]
    on = rank_batch(model, h, RankOptions(k=7, dislike_strength=ON), dislikes=nb).ids(catalog)[0]
    assert off[0] == Y
    assert on[0] != Y and list(on).index(Y) > list(off).index(Y)


def test_a_list_from_dislikes_alone_pushes_away_and_never_says_you_liked(data):
    catalog, train, nb = data
    fallback = Fallback.of(train, catalog, min_rating=8)
    model = make_recommender("ease").fit(train, catalog)
    only = History.of([X], [1])
    opts = RankOptions(k=8, dislike_strength=ON)
    ranked = rank_batch(model, [only], opts, fallback=fallback, dislikes=nb)
    recs = explain(model, [only], ranked, fallback)[0]
    assert recs and not any(r.reason.startswith("because you liked") for r in recs)
    assert X not in [r.anime_id for r in recs]
    plain = rank_batch(model, [only], opts, fallback=fallback)
    got, before = list(ranked.ids(catalog)[0]), list(plain.ids(catalog)[0])
    assert before.index(Y) < got.index(Y) if Y in got else Y in before


def test_select_without_neighbours_is_the_step_off(data):
    catalog, _, nb = data
    scores = np.linspace(1, 0, len(catalog), dtype=np.float32)[None, :]
    h = [History.of([X], [1])]
    a = select(scores.copy(), h, catalog, RankOptions(k=5, dislike_strength=ON)).positions
    b = select(scores.copy(), h, catalog, RankOptions(k=5, dislike_strength=0.0), dislikes=nb)
    c = select(scores.copy(), h, catalog, RankOptions(k=5), dislikes=nb)  # served: off
    np.testing.assert_array_equal(a, c.positions)
    np.testing.assert_array_equal(a, b.positions)
    with pytest.raises(ValueError, match="dislike_strength"):
        RankOptions(dislike_strength=-1.0)


def test_save_load_round_trip_and_a_foreign_catalog(data, tmp_path):
    catalog, _, nb = data
    nb.save(tmp_path / "d")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["neighbours.npy", "weights.npy"]
    back = DislikeNeighbours.load(tmp_path / "d", catalog)
    np.testing.assert_array_equal(back.neighbours, nb.neighbours)
    np.testing.assert_array_equal(back.weights, nb.weights)
    small = Catalog(pd.DataFrame({"anime_id": [X, Y], "name": ["a", "b"]}))
    with pytest.raises(DataError, match="catalog of 2"):
        DislikeNeighbours.load(tmp_path / "d", small)
    with pytest.raises(DataError, match="another catalog"):
        nb.push_away(np.zeros((1, 2), np.float32), [History.of([X], [1])], small, 1.0)
