"""ALS fitted by Spark MLlib (implicit feedback), served on one machine like :class:`ALS`.

Only the item factors come back to this process (n_anime × factors: 10 k × 64 floats for all of
MAL); users are folded in from their histories at recommendation time. Spark's ALS differs from
implicit's in one knob: it scales the L2 penalty by each user's (and item's) number of ratings
("ALS-WR"), so the same ``regularization`` means a different model. The fold-in here solves
Spark's own normal equations, so a user gets the factors Spark's fit would have given them.

Confidence is the same as :class:`ALS`'s: ``1 + alpha·w(rating)`` for ratings ≥ ``min_rating``
(``w`` = 1, or ``rating - min_rating + 1`` when graded); Spark gets ``w`` as the rating and
``alpha`` as its own.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Self

import numpy as np
import pandas as pd

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.recommend.als import ALS
from animerec.recommend.itemspace import ItemSpace, weighted
from animerec.spark.labels import read_ratings
from animerec.spark.session import spark_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass
class SparkALSParams(ALS.Params):
    """:class:`ALS`'s parameters; ``regularization`` is Spark's ``regParam`` (scaled per row)."""

    regularization: float = 0.05
    block_size: int = 4096
    """Users folded in per batched solve (memory ≈ block_size × factors² × 8 bytes)."""
    num_blocks: int | None = None
    """MLlib's user and item blocks (None: Spark's default parallelism — one per core)."""


def fit_factors(
    spark: SparkSession,
    ratings: str | os.PathLike[str] | DataFrame,
    params: SparkALSParams,
    *,
    users: np.ndarray | None = None,
    with_users: bool = False,
) -> tuple[np.ndarray, ...]:
    """Fit MLlib's implicit ALS; returns ``(item_ids, item_factors)`` (ids sorted, float32), and
    ``(user_ids, user_factors)`` after them when ``with_users``.

    ``ratings`` is a workspace ``ratings.parquet`` or a DataFrame of ``user_id, anime_id,
    rating``; ``users`` keeps only those users (the training users of a split).
    """
    from pyspark.ml.recommendation import ALS as MLlibALS
    from pyspark.sql import functions as F

    df = read_ratings(spark, ratings)
    if users is not None:
        u = pd.DataFrame({"user_id": np.unique(np.asarray(users, dtype=np.int64))})
        df = df.join(F.broadcast(spark.createDataFrame(u)), "user_id", "left_semi")
    r = F.col("rating").cast("float")
    w = (r - (params.min_rating - 1)) if params.graded else F.lit(1.0)
    pos = df.where(F.col("rating") >= params.min_rating).select(
        F.col("user_id").cast("int").alias("user"),
        F.col("anime_id").cast("int").alias("item"),
        w.cast("float").alias("w"),
    )
    if params.min_item_raters > 1:
        keep = pos.groupBy("item").count().where(F.col("count") >= params.min_item_raters)
        pos = pos.join(keep.select("item"), "item", "left_semi")
    als = MLlibALS(
        rank=params.factors,
        maxIter=params.iterations,
        regParam=params.regularization,
        alpha=params.alpha,
        implicitPrefs=True,
        userCol="user",
        itemCol="item",
        ratingCol="w",
        seed=params.seed,
        coldStartStrategy="drop",
    )
    blocks = params.num_blocks or _parallelism(spark)
    als.setNumUserBlocks(blocks).setNumItemBlocks(blocks)
    model = als.fit(pos)
    out = _factors(model.itemFactors, params.factors)
    return out + _factors(model.userFactors, params.factors) if with_users else out


def _factors(df: DataFrame, rank: int) -> tuple[np.ndarray, np.ndarray]:
    f = df.toPandas().sort_values("id")
    ids = f["id"].to_numpy(np.int64)
    vectors = np.asarray(np.stack(f["features"].to_numpy()), dtype=np.float32) if len(f) else []
    return ids, np.asarray(vectors, dtype=np.float32).reshape(len(ids), rank)


def fit_item_factors(
    spark: SparkSession,
    ratings: str | os.PathLike[str] | DataFrame,
    params: SparkALSParams,
    *,
    users: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fit_factors`' item half: all that serving needs."""
    return fit_factors(spark, ratings, params, users=users)


def _parallelism(spark: SparkSession) -> int:
    """One block per core of a classic session; MLlib's default (10) over Spark Connect."""
    try:
        return max(1, int(spark.sparkContext.defaultParallelism))
    except Exception:  # Spark Connect has no SparkContext
        return 10


class SparkALS(ALS):
    """:class:`ALS` whose fit runs on Spark; scoring and saving stay on numpy."""

    name: ClassVar[str] = "als_spark"
    Params: ClassVar[type] = SparkALSParams

    def __init__(self, params: SparkALSParams | None = None, spark: SparkSession | None = None):
        super().__init__(params or SparkALSParams())
        self.spark = spark
        self._V: np.ndarray | None = None

    def _session(self) -> SparkSession:
        if self.spark is None:
            self.spark = spark_session()
        return self.spark

    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        """Fit on in-memory ratings, handed to Spark as a Parquet file (a scan Spark can split and
        re-read, unlike a local table shipped inside every task)."""
        frame = pd.DataFrame(
            {"user_id": train.user_id, "anime_id": train.anime_id, "rating": train.rating}
        )
        with tempfile.TemporaryDirectory(prefix="animerec-als-") as tmp:
            path = Path(tmp) / "ratings.parquet"
            frame.to_parquet(path, index=False)
            return self._fit(path, catalog, None)

    def fit_ratings_file(
        self, path: str | os.PathLike[str], catalog: Catalog, users: np.ndarray | None = None
    ) -> Self:
        """Fit on a workspace ``ratings.parquet`` that Spark reads itself (``users``: only those)."""
        return self._fit(Path(path), catalog, users)

    def _fit(self, ratings, catalog: Catalog, users: np.ndarray | None) -> Self:
        ids, factors = fit_item_factors(self._session(), ratings, self.params, users=users)
        return self.use_factors(ids, factors, catalog)

    def use_factors(self, item_ids: np.ndarray, item_factors: np.ndarray, catalog: Catalog) -> Self:
        """Serve item factors fitted elsewhere (:func:`fit_factors`): the catalog's items only,
        in catalog order."""
        ids = np.asarray(item_ids, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        space = ItemSpace.of(catalog, ids)
        cols = order[np.searchsorted(ids, space.item_ids, sorter=order)]
        self.set_state({"item_ids": space.item_ids, "item_factors": item_factors[cols]}, catalog)
        return self

    @property
    def item_factors(self) -> np.ndarray:
        return self._V

    def user_factors(self, histories: Sequence[History]) -> np.ndarray:
        """Each history's factors from Spark's normal equations (penalty ``λ·n_u``), item
        factors fixed: ``(VᵀV + Vᵀ(C−I)V + λ n_u I) x = Vᵀ C p``."""
        p = self.params
        V = self._V.astype(np.float64)
        k = V.shape[1]
        G = V.T @ V
        W = weighted(self.space.history_matrix(histories), p.min_rating, p.graded).tocsr()
        out = np.zeros((len(histories), k), np.float32)
        eye = np.eye(k)
        for s in range(0, len(histories), p.block_size):
            rows = range(s, min(s + p.block_size, len(histories)))
            A = np.repeat(G[None], len(rows), axis=0)
            b = np.zeros((len(rows), k))
            for j, i in enumerate(rows):
                cols = W.indices[W.indptr[i] : W.indptr[i + 1]]
                if len(cols) == 0:
                    A[j] += eye  # nothing to fit: x = 0
                    continue
                c = 1.0 + p.alpha * W.data[W.indptr[i] : W.indptr[i + 1]].astype(np.float64)
                Vi = V[cols]
                A[j] += (Vi.T * (c - 1.0)) @ Vi + p.regularization * len(cols) * eye
                b[j] = Vi.T @ c
            out[s : s + len(rows)] = np.linalg.solve(A, b[..., None])[..., 0]
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {"item_ids": self.space.item_ids, "item_factors": self._V}

    def set_state(self, arrays: dict[str, np.ndarray], catalog: Catalog) -> None:
        self.space = ItemSpace.restore(catalog, arrays["item_ids"])
        self._V = np.ascontiguousarray(arrays["item_factors"], dtype=np.float32)
        self.model, self.catalog = None, catalog
        self._unit_items = None
