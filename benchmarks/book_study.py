"""The book's comparison (issue 16): MiniLM and mpnet, base and fine-tuned, at 384 and 512 tokens.

The content recommender (default settings, untuned, as ``embedding_study.py rated`` scores it) over
the anime some sample user rated — the most-rated ``--top`` of them when mpnet's CPU encoding could
not cover all — on the DEV 80% hold-out, the few-likes protocol (N of a test user's ratings ≥ 9
given as liked, relevant = the user's other ratings ≥ 9) and the book's own split (a seeded 80/20
split of every user's rating rows, no user split). Every figure is NDCG@10, HR@10 and the book's
NPS@10 (pooled over recommended anime the user rated in the held-out part: the "hits"), with
paired deltas over users. Steps (each resumable, results in ``WS/study/book/``):

    export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    B="python benchmarks/book_study.py -w WS"
    $B encode mpnet@384 base@384              # rated anime, most-rated first (cached)
    $B extend mpnet@512 --source mpnet@384    # only descriptions longer than 384 tokens encoded
    $B train bk-ad384 bk-ad512 bk-mp-ad384 bk-mp-ad512   # adapters over those vectors
    $B eval base@384 bk-ad384 mpnet@384 bk-mp-ad384 ...  # every protocol
    $B report                                 # the markdown table of docs/experiments.md §9
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from embedding_study import (  # noqa: E402  (the study package, next to this file)
    CONFIGS,
    K10,
    Study,
    ad,
    paired_delta,
    parse_label,
    per_user,
)

from animerec.data.ratings import Ratings, histories_from_ratings  # noqa: E402
from animerec.evaluate.split import SEED, Split  # noqa: E402
from animerec.finetune.run import finetune, read_manifest  # noqa: E402
from animerec.workspace import Workspace, read_json, write_json  # noqa: E402

__all__ = ["BOOK_CONFIGS", "likes_split", "main"]

LIKES = (1, 3, 10)
BOOK_CONFIGS: dict[str, dict[str, Any]] = {
    "bk-ad384": ad("mnrl", K10, seq=384),
    "bk-ad512": ad("mnrl", K10, seq=512),
    "bk-mp-ad384": ad("mnrl", K10, seq=384, base="mpnet"),
    "bk-mp-ad512": ad("mnrl", K10, seq=512, base="mpnet"),
}
"""The winning adapter recipe (EASE-teacher k=10, MNRL, 30 epochs) at 384 and 512 tokens over
MiniLM (384 × 384) and mpnet (768 × 768), trained on the DEV training users' ratings of the
book's anime. Without the rare-anime hard negatives of the finetune default: the most-rated
anime have no long tail to draw them from (on the warm catalog the two recipes tie, −.003
[−.011, +.004], docs/experiments.md §6)."""


# --- protocols ------------------------------------------------------------------------------------
def likes_split(split: Split, n: int, seed: int = SEED) -> Split:
    """DESIGN §5.6: for each test user, ``n`` of the user's ratings ≥ 9 (drawn with
    ``default_rng([seed, user, n])``) given as liked (rating 10); every other rating is held out
    (relevant: ≥ 9); users need ≥ n + 1 ratings ≥ 9."""
    full = Ratings.from_arrays(
        np.concatenate([split.history.user_id, split.heldout.user_id]),
        np.concatenate([split.history.anime_id, split.heldout.anime_id]),
        np.concatenate([split.history.rating, split.heldout.rating]),
    )
    order = np.lexsort((full.anime_id, full.user_id))
    u, a, r = full.user_id[order], full.anime_id[order], full.rating[order]
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
    ends = np.r_[starts[1:], len(u)]
    hist_u, hist_a, held = [], [], np.ones(len(u), bool)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        pos = np.flatnonzero(r[s:e] >= 9) + s
        if len(pos) < n + 1:
            held[s:e] = False
            continue
        pick = np.random.default_rng([seed, int(u[s]), n]).choice(pos, n, replace=False)
        held[pick] = False
        hist_u.extend([int(u[s])] * n)
        hist_a.extend(a[pick].tolist())
    history = Ratings.from_arrays(hist_u, hist_a, np.full(len(hist_u), 10))
    users = np.unique(np.asarray(hist_u, np.int64))
    keep = held & np.isin(u, users)
    heldout = Ratings.from_arrays(u[keep], a[keep], r[keep])
    return Split(split.train_users, users, split.train, history, heldout)


# --- vectors ------------------------------------------------------------------------------------
class Book:
    """The study plus the book's anime set: rated anime, most-rated first, the first ``top``."""

    def __init__(self, ws: Workspace, top: int | None) -> None:
        from animerec.text import describe

        self.study = Study(ws)
        self.out = ws.sub("study", "book")
        cat = self.study.catalog
        ids, raters = np.unique(self.study.ratings.anime_id, return_counts=True)
        ids = ids[np.argsort(-raters, kind="stable")]
        ids = ids[np.isin(ids, cat.anime_ids)]
        self.ids = ids if top is None else ids[:top]
        pos = {a: i for i, a in enumerate(cat.anime_ids.tolist())}
        self.rows = np.array([pos[a] for a in self.ids.tolist()], np.int64)
        texts = describe(cat, "clean")
        self.texts = [texts[i] for i in self.rows.tolist()]
        self.mask = np.zeros(len(cat), bool)
        self.mask[self.rows] = True

    def embedder(self, label: str):
        from animerec.embed.registry import get_embedder

        name, seq = parse_label(label)
        return get_embedder(name, workspace=self.study.ws, max_seq_length=seq)

    def vectors(self, label: str, progress: bool = True) -> np.ndarray:
        """Vectors of the book's anime in ``self.ids`` order (encoded only if not cached)."""
        from animerec.embed.cache import EmbeddingCache, cached_encode

        emb = self.embedder(label)
        return cached_encode(emb, self.texts, EmbeddingCache(self.study.ws), progress=progress)

    def catalog_vectors(self, label: str) -> np.ndarray:
        """Catalog-shaped vectors: the book's anime encoded, the rest zero (never recommended)."""
        v = self.vectors(label)
        out = np.zeros((len(self.study.catalog), v.shape[1]), np.float32)
        out[self.rows] = v
        return out


def encode(book: Book, labels: list[str]) -> None:
    for label in labels:
        t0 = time.perf_counter()
        v = book.vectors(label)
        print(f"encode {label}: {v.shape} in {time.perf_counter() - t0:.0f} s", flush=True)


def extend(book: Book, labels: list[str], source: str, check: int = 16) -> None:
    """``label`` (name@N) from ``source`` (name@M, M < N): descriptions of ≤ M tokens are copied
    (same tokens, same vector), only the longer ones encoded."""
    from animerec.embed.cache import EmbeddingCache, cached_encode
    from animerec.embed.tokenizer import load_tokenizer
    from animerec.text import text_hash, token_lengths

    src_name, src_seq = parse_label(source)
    cache = EmbeddingCache(book.study.ws)
    src = book.vectors(source, progress=False)
    lengths = token_lengths(book.texts, load_tokenizer(src_name, book.study.ws))
    short = np.flatnonzero(lengths <= src_seq)
    for label in labels:
        name, seq = parse_label(label)
        if name != src_name or seq is None or seq <= src_seq:
            raise SystemExit(f"extend: {label} must be {src_name}@N with N > {src_seq}")
        emb = book.embedder(label)
        keys = [text_hash(book.texts[i]) for i in short.tolist()]
        cache.add(emb.name, keys, src[short], getattr(emb, "fingerprint", None))
        longer = [t for t, n in zip(book.texts, lengths, strict=True) if n > src_seq]
        t0 = time.perf_counter()
        cached_encode(emb, longer, cache, progress=True)
        sample = np.random.default_rng(SEED).choice(short, min(check, len(short)), replace=False)
        cos = np.sum(emb.encode([book.texts[i] for i in sample]) * src[sample], axis=1)
        print(
            f"extend {label}: {len(short):,} copied from {source}, {len(longer):,} longer ones "
            f"encoded in {time.perf_counter() - t0:.0f} s; check of {len(sample)} copied: min "
            f"cosine {cos.min():.6f}",
            flush=True,
        )


def train(book: Book, names: list[str]) -> None:
    """The adapters of :data:`BOOK_CONFIGS`, on the DEV training users' ratings of the book's
    anime, over the base encoder's cached vectors of those anime."""
    ratings = book.study.ratings
    ratings = ratings.take(np.isin(ratings.anime_id, book.ids))
    for name in names:
        c = BOOK_CONFIGS[name]
        path = book.study.ws.models_dir / name
        if (path / "manifest.json").exists():
            print(f"{name}: already trained — skipped")
            continue
        s = c["settings"]
        base = f"{'base' if s.base == 'minilm' else s.base}@{s.max_seq_length}"
        vectors = book.vectors(base, progress=False)
        finetune(
            ratings,
            book.study.catalog,
            book.study.split.train_users,
            name,
            workspace=book.study.ws,
            settings=s,
            users_label="train",
            base_vectors=lambda v=vectors: (book.ids, v),
        )


# --- evaluation -----------------------------------------------------------------------------------
def protocols(book: Book) -> dict[str, Split]:
    s = book.study.split
    out = {"holdout": s}
    out.update({f"likes{n}": likes_split(s, n) for n in LIKES})
    return out


def evaluate_label(book: Book, label: str, splits: dict[str, Split]) -> None:
    from animerec.evaluate.report import metrics_dict
    from animerec.evaluate.runner import evaluate
    from animerec.recommend.content import ContentRecommender

    target = book.out / f"{label}.json"
    if target.exists():
        print(f"eval {label}: done — skipped ({target})")
        return
    vectors = book.catalog_vectors(label)
    out: dict[str, Any] = {"label": label, "top": len(book.ids), "protocols": {}}
    manifest = _manifest(book, label)
    if manifest:
        out["finetune"] = {k: manifest.get(k) for k in ("steps", "train_s", "wall_s", "validation")}
    for proto, split in splits.items():
        # Candidates: the book's anime some training user rated (min_item_raters=1 counts raters
        # in split.train), so an anime without a vector is never recommended.
        split = replace(split, train=split.train.take(np.isin(split.train.anime_id, book.ids)))
        model = ContentRecommender(ContentRecommender.Params(min_item_raters=1), vectors=vectors)
        ev = evaluate(
            [model], book.study.ratings, book.study.catalog, split=split, tune_models=False
        )
        users, _ = histories_from_ratings(split.history)
        r = ev.results[0]
        res = metrics_dict(ev, {"label": label, "protocol": proto})
        res["per_user"] = per_user(r, split, users)
        out["protocols"][proto] = res
        print(
            f"eval {label} {proto}: NDCG@10 {r.ndcg.mean:.4f} [{r.ndcg.low:.4f}, {r.ndcg.high:.4f}]"
            f"  HR@10 {r.hr.mean:.3f}  NPS {r.nps.value:+.3f} (n={r.nps.n})",
            flush=True,
        )
    write_json(target, out)


def _manifest(book: Book, label: str) -> dict[str, Any]:
    name, seq = parse_label(label)
    path = book.study.ws.models_dir / name
    return read_manifest(path) if seq is None and path.exists() else {}


# --- report ---------------------------------------------------------------------------------------
ROWS = (
    ("MiniLM-L6", 384, "base@384", "bk-ad384"),
    ("MiniLM-L6", 512, "base@512", "bk-ad512"),
    ("mpnet-base", 384, "mpnet@384", "bk-mp-ad384"),
    ("mpnet-base", 512, "mpnet@512", "bk-mp-ad512"),
)


def report(book: Book) -> None:
    runs = {p.stem: read_json(p) for p in sorted(book.out.glob("*.json"))}
    protos = ["holdout", *(f"likes{n}" for n in LIKES)]
    for proto in protos:
        print(f"\n**{proto}** (content, untuned, {len(book.ids):,} most-rated anime)\n")
        print(
            "| embedder | seq | model | NDCG@10 | Δ vs base | Δ vs MiniLM same | HR@10 | NPS@10 (hits) |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for name, seq, base, tuned in ROWS:
            for kind, label in (("base", base), ("fine-tuned", tuned)):
                if label not in runs or proto not in runs[label]["protocols"]:
                    print(f"| {name} | {seq} | {kind} (`{label}`) | not run | | | | |")
                    continue
                r = runs[label]["protocols"][proto]["results"][0]
                pu = runs[label]["protocols"][proto]["per_user"]
                d_base = _delta(runs, base, proto, pu) if label != base else "–"
                mini = f"base@{seq}" if kind == "base" else ROWS[0 if seq == 384 else 1][3]
                d_mini = _delta(runs, mini, proto, pu) if name != "MiniLM-L6" else "–"
                nps = r["nps"]
                print(
                    f"| {name} | {seq} | {kind} (`{label}`) | {_ci(r['ndcg'])} | {d_base} | "
                    f"{d_mini} | {r['hr']['mean']:.3f} | {nps['value']:+.3f} (n={nps['n']}) |"
                )


def _delta(runs: dict, other: str, proto: str, mine: dict) -> str:
    if other not in runs or proto not in runs[other]["protocols"]:
        return "–"
    d, lo, hi = paired_delta(runs[other]["protocols"][proto]["per_user"], mine)
    return f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def _ci(x: dict) -> str:
    return f"{x['mean']:.3f} [{x['low']:.3f}, {x['high']:.3f}]"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workspace", "-w", required=True, type=Path)
    ap.add_argument("step", choices=["encode", "extend", "train", "eval", "report"])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--source", default="mpnet@384", help="extend: the shorter length")
    ap.add_argument("--top", type=int, default=None, help="the most-rated N rated anime only")
    a = ap.parse_intermixed_args(argv)
    CONFIGS.update(BOOK_CONFIGS)
    book = Book(Workspace(a.workspace), a.top)
    if a.step == "encode":
        encode(book, a.names)
    elif a.step == "extend":
        extend(book, a.names, a.source)
    elif a.step == "train":
        unknown = [n for n in a.names if n not in BOOK_CONFIGS]
        if unknown:
            sys.exit(
                f"unknown configuration(s): {', '.join(unknown)}; one of {', '.join(BOOK_CONFIGS)}"
            )
        train(book, a.names)
    elif a.step == "eval":
        splits = protocols(book)
        for label in a.names:
            evaluate_label(book, label, splits)
    else:
        report(book)


if __name__ == "__main__":
    main()
