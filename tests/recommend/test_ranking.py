"""top_k's threshold pass returns exactly the full sort's top k (ties by catalog position)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from animerec.recommend.ranking import _top_k_partition, top_k


def reference(scores: np.ndarray, k: int) -> np.ndarray:
    """Best score first, ties by position, NaN last: one stable sort per row."""
    k = min(k, scores.shape[1])
    pos = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    nan = np.isnan(scores)
    return np.lexsort((pos, np.where(nan, 0, -scores), nan), axis=1)[:, :k]


values = st.one_of(
    st.sampled_from([0.0, 1.0, 0.5, -np.inf, np.inf, np.nan]),
    st.floats(-3, 3, width=32),
)


@settings(max_examples=300, deadline=None)
@given(
    arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 400)), elements=values),
    st.integers(1, 30),
)
def test_top_k_matches_a_full_sort(scores: np.ndarray, k: int) -> None:
    want = reference(scores, k)
    got = top_k(scores.copy(), k)
    # NaN rows may order their NaN tail differently; every finite/inf pick must agree
    ok = ~np.isnan(np.take_along_axis(scores, want, axis=1))
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.where(ok, got, -1), np.where(ok, want, -1))


def test_threshold_pass_and_partition_agree_on_wide_rows() -> None:
    rng = np.random.default_rng(0)
    s = rng.normal(size=(50, 17_562)).astype(np.float32)
    s[:10] = np.round(s[:10], 1)  # many ties at the k-th score
    s[10:20, rng.random(17_562) < 0.7] = -np.inf  # a member that scores part of the catalog
    s[20:25] = -np.inf  # nothing scored
    s[25, 7] = np.nan
    for k in (1, 10, 50, 200):
        np.testing.assert_array_equal(top_k(s.copy(), k), _top_k_partition(s.copy(), k))
        np.testing.assert_array_equal(top_k(s.copy(), k), reference(s, k))
