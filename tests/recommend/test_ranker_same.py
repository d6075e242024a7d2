"""The ranker's faster scoring gives what the first version gave, bit for bit.

``reference_candidates`` and ``reference_score`` are the first version's code (commit dc53f50)
kept verbatim as the oracle: a fitted ranker on synthetic data with real splits in its booster
must give the very same candidates, features and score rows, so the same lists, for histories
that exercise every branch (likes only, dislikes, no like, unknown titles, long histories, and
popularity's tied fan counts at the cut).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.recommend.itemspace import DISLIKE_MAX
from animerec.recommend.ranker import RankerRecommender
from animerec.recommend.ranker.features import Candidates, ItemSide, candidates, smallest


def reference_candidates(history, scores, depths, side, catalog) -> Candidates:
    pos = catalog.positions(history.anime_ids)
    ok = pos >= 0
    like = history.ratings[ok] > DISLIKE_MAX
    liked, disliked = pos[ok][like], pos[ok][~like]
    seen = np.zeros(len(catalog), bool)
    seen[np.r_[liked, disliked]] = True
    proposer = np.full(len(catalog), -1, np.int64)
    n_prop = np.zeros(len(catalog), np.int64)
    for m in range(len(scores) - 1, -1, -1):
        s = np.where(seen, -np.inf, scores[m])
        d = min(depths[m], int(np.isfinite(s).sum()))
        if d <= 0:
            continue
        top = np.argpartition(-s, d - 1)[:d]
        top = top[np.isfinite(s[top])]
        proposer[top] = m
        n_prop[top] += 1
    pos = np.flatnonzero(proposer >= 0)
    cols = []
    for s in scores:
        c = np.asarray(s[pos], np.float64)
        fin = np.isfinite(c)
        mean = c[fin].mean() if fin.any() else 0.0
        std = c[fin].std() if fin.sum() > 1 else 0.0
        z = np.where(fin, (np.where(fin, c, 0.0) - mean) / (std or 1.0), np.nan)
        order = np.argsort(-np.where(fin, c, -np.inf), kind="stable")
        rank = np.empty(len(pos), np.float64)
        rank[order] = np.arange(len(pos))
        cols += [z, np.where(fin, rank, len(pos))]
    n = len(pos)
    cols += [np.full(n, len(liked)), np.full(n, len(disliked)), n_prop[pos]]
    cols += list(side.items[pos].T)
    same = np.isin(side.franchise_of[pos], side.franchise_of[liked])
    if same.any():
        counts = np.bincount(side.franchise_of[liked], minlength=int(side.franchise_of.max()) + 1)
        cols.append(counts[side.franchise_of[pos]])
    else:
        cols.append(np.zeros(n))
    if side.vectors is not None:
        v = side.vectors[pos]
        if len(liked):
            sim = v @ side.vectors[liked].T
            cols += [sim.max(axis=1), sim.mean(axis=1)]
        else:
            cols += [np.full(n, np.nan), np.full(n, np.nan)]
        cols.append(
            (v @ side.vectors[disliked].T).max(axis=1) if len(disliked) else np.full(n, np.nan)
        )
    features = np.stack(cols, axis=1).astype(np.float32) if n else np.zeros((0, len(cols)))
    return Candidates(pos, proposer[pos], features.astype(np.float32))


def reference_tail(base: np.ndarray, top: float) -> np.ndarray:
    fin = np.isfinite(base)
    if not fin.any():
        return np.full(len(base), -np.inf, np.float32)
    hi, lo = float(base[fin].max()), float(base[fin].min())
    span = hi - lo if hi > lo else 1.0
    t = top - (hi - np.where(fin, base, hi)) / span
    return np.where(fin, t, -np.inf).astype(np.float32)


def reference_score(model: RankerRecommender, histories) -> np.ndarray:
    catalog = model.fitted_catalog()
    out = np.empty((len(histories), len(catalog)), np.float32)
    scores = [np.asarray(m.score(histories), np.float32) for m in model.members]
    cands = [
        reference_candidates(h, [x[r] for x in scores], model.params.depths, model.side, catalog)
        for r, h in enumerate(histories)
    ]
    pred = model.booster.predict(np.concatenate([c.features for c in cands]), num_threads=1)
    at, rank0 = 0, model.names.index(f"{model.params.members[0]}:rank")
    for r, c in enumerate(cands):
        n = len(c.positions)
        mine = pred[at : at + n] - 1e-6 * c.features[:, rank0] / max(n, 1)
        at += n
        out[r] = reference_tail(scores[0][r], float(mine.min()) - 1.0 if n else 0.0)
        out[r, c.positions] = mine
    return out


N_ITEMS, N_USERS = 400, 240


def world() -> tuple[Catalog, Ratings]:
    """Four taste clusters over 400 anime (a few never rated); fan counts repeat, so
    popularity ties at its cut."""
    rng = np.random.default_rng(7)
    ids = np.arange(1, N_ITEMS + 1)
    catalog = Catalog(
        pd.DataFrame(
            {
                "anime_id": ids,
                "name": [f"Title {i}" if i % 9 else f"Saga {i // 27} part {i}" for i in ids],
                "type": rng.choice(["TV", "Movie", "OVA", "ONA", "Special"], N_ITEMS),
                "aired": [f"Apr 3, {1980 + i % 40}" for i in ids],
                "score": np.round(rng.uniform(5, 9, N_ITEMS), 2),
                "members": rng.integers(100, 100_000, N_ITEMS),
                "genres": ["Action"] * N_ITEMS,
            }
        )
    )
    users, items, ratings = [], [], []
    for u in range(N_USERS):
        home = ids[(u % 4) * 95 : (u % 4 + 1) * 95]
        seen = rng.choice(home, rng.integers(8, 40), replace=False)
        away = rng.choice(ids[:380], rng.integers(1, 8), replace=False)
        for a in np.union1d(seen, away):
            users.append(u), items.append(int(a))
            ratings.append(int(rng.integers(8, 11) if a in seen else rng.integers(2, 8)))
    return catalog, Ratings.from_arrays(users, items, ratings)


def histories(catalog: Catalog) -> list[History]:
    rng = np.random.default_rng(11)
    out = [History.of([], []), History.of([9999], [10]), History.of([3], [2])]
    for n in (1, 2, 3, 5, 10, 30, 80):
        for _ in range(6):
            ids = rng.choice(catalog.anime_ids, n, replace=False)
            out.append(History.of(ids, rng.integers(1, 11, n)))
    return out


@pytest.fixture(scope="module")
def fitted() -> tuple[RankerRecommender, Catalog]:
    catalog, train = world()
    params = RankerRecommender.Params(
        members=("ease", "itemknn", "userknn", "popularity"),
        depths=(40, 20, 20, 15),
        member_params={"ease": {"l2": 50.0}, "userknn": {"neighbours": 10}},
        protocols=(0, 1, 3),
        draws=1,
        min_validation_ratings=10,
        rounds=30,
        num_leaves=7,
        min_data_in_leaf=20,
        num_threads=1,
    )
    return RankerRecommender(params).fit(train, catalog), catalog


def test_the_booster_has_real_splits(fitted):
    model, _ = fitted
    trees = model.booster.dump_model()["tree_info"]
    assert sum(t["num_leaves"] > 1 for t in trees) >= 10


@pytest.mark.parametrize("text", [False, True])
def test_candidates_and_features_equal_the_first_version(fitted, text):
    model, catalog = fitted
    side = model.side
    if text:  # the text features, as a content member's unit vectors give them
        v = np.random.default_rng(3).normal(size=(N_ITEMS, 8)).astype(np.float32)
        side = ItemSide(side.items, side.franchise_of, v / np.linalg.norm(v, axis=1)[:, None])
    hs = histories(catalog)
    scores = [np.asarray(m.score(hs), np.float32) for m in model.members]
    for r, h in enumerate(hs):
        rows = [x[r] for x in scores]
        got = candidates(h, rows, model.params.depths, side, catalog)
        want = reference_candidates(h, rows, model.params.depths, side, catalog)
        np.testing.assert_array_equal(got.positions, want.positions)
        np.testing.assert_array_equal(got.proposer, want.proposer)
        assert got.features.dtype == want.features.dtype == np.float32
        np.testing.assert_array_equal(got.features, want.features)  # NaN where NaN


def test_scores_and_lists_equal_the_first_version(fitted):
    model, catalog = fitted
    hs = histories(catalog)
    want = reference_score(model, hs)
    np.testing.assert_array_equal(model.score(hs), want)
    one = np.stack([model.score([h])[0] for h in hs])
    np.testing.assert_array_equal(one, want)
    lists = [[r.anime_id for r in x] for x in model.recommend(hs, 10)]
    for h, ids, row in zip(hs, lists, want, strict=True):
        row = row.copy()
        row[catalog.positions(h.anime_ids)[catalog.positions(h.anime_ids) >= 0]] = -np.inf
        order = np.lexsort((np.arange(len(row)), -row))[: len(ids)]
        assert ids == catalog.anime_ids[order].tolist()


def test_smallest_is_argpartitions_set_with_and_without_ties():
    rng = np.random.default_rng(5)
    for trial in range(300):
        n = int(rng.integers(50, 3000))
        depth = int(rng.integers(1, 120))
        x = rng.normal(size=n).astype(np.float32)
        if trial % 3 == 0:
            x = np.round(x * 3).astype(np.float32)  # heavy ties everywhere, at the cut too
        if trial % 5 == 0:
            x[rng.integers(0, n, n // 2)] = np.inf  # seen or unscorable titles
        d = min(depth, int(np.isfinite(x).sum()))
        want = np.argpartition(x, d - 1)[:d] if d > 0 else np.zeros(0, np.int64)
        want = want[np.isfinite(x[want])]
        np.testing.assert_array_equal(np.sort(smallest(x, depth)), np.sort(want))
