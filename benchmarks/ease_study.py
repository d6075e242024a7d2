"""The EASE family on few likes (issue 13): every model tuned per protocol on VALIDATION users.

Validation users are carved from the DEV protocol's training users (``validation_split``, seed
43); models are fitted on the remaining training users; the DEV test users play no part. The
protocols:

- ``holdout``: DESIGN §5 (80% of each validation user's ratings given, 20% held out);
- ``likes-N`` (N = 1, 3, 5, 10): N titles drawn (seeded per user) from the user's ratings ≥ 9
  are given as liked (rating 10); relevant = every other rating ≥ 9 (users need ≥ N + 1);
- ``likes-N+d1``: the same likes plus one title drawn from the user's ratings ≤ 5, given as
  disliked (with its rating); only users with such a rating. The disliked title is left out of
  the answers of both the with- and without-dislike lists, so the two are compared fairly.

Each model has fit-time configurations (one fit each, shared by every protocol) and score-time
settings (popularity discount and prior, dislike weight) tried without refitting. Per protocol
the choice is *cross-fitted*: validation users fall into two seeded halves, the setting chosen
on one half is scored on the other, and the two out-of-sample halves are pooled — so the table
is not inflated by the choice itself. "Best params" is the choice over all validation users.
Paired deltas are against tuned EASE (today's grid: λ, positives, popularity discount) and
tuned popularity, with percentile-bootstrap 95% CIs over users.

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 nice -n 10 python benchmarks/ease_study.py \
        -w WS [--models ease,l3ae,...] [--quick] [--out WS/reports/ease_study]
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings, histories_from_ratings
from animerec.data.split import SEED, protocol_split, validation_split
from animerec.embed.registry import resolve_auto, training_users
from animerec.evaluate.metrics import bootstrap_ci, lookup_heldout, ranking_metrics
from animerec.recommend import make_recommender, mask_seen, top_k
from animerec.recommend.context import Context

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tables module beside this script
from ease_study_tables import markdown  # noqa: E402

K = 10
LIKES = (1, 3, 5, 10)
DISLIKE_AT = (1, 3, 10)
REFERENCE = "ease"
"""Tuned over today's EASE grid only (the issue's per-protocol reference)."""


def grid(**axes: list) -> list[dict]:
    keys = sorted(axes)
    return [dict(zip(keys, v, strict=True)) for v in itertools.product(*(axes[k] for k in keys))]


def ease_fits(quick: bool) -> list[dict]:
    """λ alone; then each refinement at a few λ; then the refinements with item degree
    normalisation (the strongest one alone in a first run)."""
    lams = [1000.0, 5000.0] if quick else [250.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 20000.0]
    mid = [2000.0] if quick else [2000.0, 5000.0]
    out = [{"l2": v} for v in lams] + [{"l2": v, "min_rating": 8} for v in mid]
    extra = {"drop_p": [0.1, 0.3], "user_norm": [0.25, 0.5], "target_rating": [9]}
    for key, values in extra.items():
        out += [{"l2": v, key: x} for v in mid for x in (values[:1] if quick else values)]
    norm_l2 = [2000.0] if quick else [1000.0, 2000.0, 5000.0]
    out += [
        {"l2": v, "item_norm": x} for v in norm_l2 for x in ([0.25] if quick else [0.1, 0.25, 0.4])
    ]
    if not quick:
        both = [{"drop_p": 0.3}, {"user_norm": 0.25}, {"target_rating": 9}]
        out += [{"l2": 2000.0, "item_norm": 0.25, **b} for b in both]
    return out


def families(quick: bool, embedder: str) -> dict[str, dict]:
    """Per model: the registry name, fit-time configurations, and score-time axes."""
    dis = [0.0, -0.5, -1.0]
    ease_score = {"popularity_discount": [0.0, 0.2, 0.4], "popularity_blend": [0.0, 0.2, 1.0]}
    side = {"embedder": embedder}
    text_l2 = [1000.0, 5000.0] if quick else [2000.0, 5000.0]
    return {
        "popularity": {"model": "popularity", "fits": grid(min_rating=[8, 9]), "score": {}},
        "itemknn": {
            "model": "itemknn",
            "fits": grid(neighbours=[20, 50, 100, 200], min_rating=[8, 9]),
            "dislike": dis,
        },
        "userknn": {
            "model": "userknn",
            "fits": grid(neighbours=[25, 50, 100], min_rating=[8, 9]),
            "dislike": dis,
        },
        "content": {
            "model": "content",
            "fits": grid(neighbours=[5, 10, 20, 50], embedder=[embedder]),
            "dislike": dis,
        },
        "ease": {"model": "ease", "fits": ease_fits(quick), "score": ease_score, "dislike": dis},
        "ease+": {  # a second run past the first grid's edges (λ 20000, item_norm 0.4 won there)
            "model": "ease",
            "extends": "ease",
            "fits": [{"l2": v} for v in (50000.0, 100000.0)]
            + [{"l2": v, "item_norm": x} for v in (10000.0, 20000.0) for x in (0.25, 0.4)]
            + [{"l2": v, "item_norm": 0.6} for v in (2000.0, 5000.0, 10000.0)],
            "score": ease_score,
            "dislike": dis,
        },
        "l3ae": {
            "model": "l3ae",
            "fits": [
                {**side, "l2": v, "side_weight": m} for v in text_l2 for m in (200.0, 1000.0, 5000.0)
            ]
            + [
                {**side, "l2": 2000.0, "item_norm": 0.25, "side_weight": m}
                for m in (200.0, 1000.0, 5000.0)
            ],
            "score": ease_score,
            "dislike": dis,
        },
        "l3ae+": {  # L3AE at the 3-likes EASE's settings (λ 5000, α .4): a text side there?
            "model": "l3ae",
            "extends": "l3ae",
            "fits": [
                {**side, "l2": 5000.0, "item_norm": 0.4, "side_weight": m}
                for m in (50.0, 200.0, 1000.0)
            ],
            "score": ease_score,
            "dislike": dis,
        },
        "cease": {
            "model": "cease",
            "fits": [{**side, "l2": v, "side_weight": w} for v in text_l2 for w in (30.0, 300.0)],
            "score": ease_score,
            "dislike": dis,
        },
        "addease": {
            "model": "addease",
            "fits": [{**side, "l2": v, "side_weight": w} for v in text_l2 for w in (0.1, 0.3)],
            "score": ease_score,
            "dislike": dis,
        },
        "infae": {
            "model": "infae",
            "fits": grid(l2=[0.01, 0.1, 1.0, 10.0], popularity_discount=[0.0, 0.2, 0.4]),
            "dislike": dis,
        },
    }  # fmt: skip


@dataclass(frozen=True)
class Protocol:
    name: str
    users: np.ndarray
    histories: list[History]
    heldout: Ratings
    """The answers: every rating of the user not given (and not the disliked title)."""
    without: list[History] | None = None
    """For ``+d1``: the same histories without the dislike."""


def likes_protocol(ratings: Ratings, n: int, *, dislikes: int = 0, seed: int = SEED) -> Protocol:
    """``n`` liked titles per user from their ratings ≥ 9 (one seeded permutation per user, so
    the 3 likes hold the 1), plus ``dislikes`` titles from their ratings ≤ 5."""
    users, hists = histories_from_ratings(ratings)
    keep, given, without, held = [], [], [], []
    for user, h in zip(users, hists, strict=True):
        fans = np.flatnonzero(h.ratings >= 9)
        low = np.flatnonzero(h.ratings <= 5)
        if len(fans) < n + 1 or len(low) < dislikes:
            continue
        liked = np.random.default_rng([seed, int(user)]).permutation(fans)[:n]
        bad = np.random.default_rng([seed, int(user), 1]).permutation(low)[:dislikes]
        rest = np.setdiff1d(np.arange(len(h)), np.concatenate([liked, bad]))
        likes = History(h.anime_ids[liked], np.full(n, 10, np.int8))
        keep.append(int(user))
        without.append(likes)
        given.append(
            History(
                np.concatenate([likes.anime_ids, h.anime_ids[bad]]),
                np.concatenate([likes.ratings, h.ratings[bad]]),
            )
        )
        held.append((np.full(len(rest), user), h.anime_ids[rest], h.ratings[rest]))
    u, a, r = (
        np.concatenate(x) if held else np.zeros(0, np.int64) for x in zip(*held, strict=True)
    )
    name = f"likes-{n}" + (f"+d{dislikes}" if dislikes else "")
    return Protocol(
        name,
        np.asarray(keep, np.int64),
        given,
        Ratings.from_arrays(u, a, r),
        without if dislikes else None,
    )


def top_ids(model, histories: list[History], catalog: Catalog) -> np.ndarray:
    """The top-K anime ids per history, ``-1`` padded (the ids ``recommend`` returns)."""
    scores = np.asarray(model.score(histories), np.float32)
    mask_seen(scores, histories, catalog)
    top = top_k(scores, K)
    ok = np.isfinite(np.take_along_axis(scores, top, axis=1))
    return np.where(ok, catalog.anime_ids[top], -1)


def per_user(ids: np.ndarray, p: Protocol) -> dict[str, np.ndarray]:
    """NDCG@K (users with a relevant answer) and detractor rate (share of the K slots the user
    rated ≤ 6) per user."""
    look = lookup_heldout(ids, p.heldout, p.users)
    m = ranking_metrics(look, p.users, K)
    det = ((look.rating > 0) & (look.rating <= 6)).sum(axis=1) / K
    counted = look.n_relevant >= 1
    return {"ndcg": m.ndcg, "det": det[counted]}


def rescored(model, changes: dict):
    """``model`` with score-time parameters changed: EASE's own :meth:`rescored`, else a copy
    with new params (for parameters the model reads only when scoring, like dislike_weight)."""
    if not changes:
        return model
    if hasattr(model, "rescored"):
        return model.rescored(**changes)
    out = copy.copy(model)
    out.params = replace(model.params, **changes)
    return out


def halves(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Two seeded halves of ``n`` users (boolean masks)."""
    half = np.random.default_rng(seed).permutation(n) % 2 == 0
    return half, ~half


def crossfit(values: np.ndarray, seed: int = SEED) -> tuple[list[tuple[np.ndarray, int]], int]:
    """For a grid ``[configs, users]``: per half of the users, the config chosen on the *other*
    half (so its score there is out of sample), and the choice over all users."""
    picks = [
        (fold, int(np.argmax(values[:, ~fold].mean(axis=1))))
        for fold in halves(values.shape[1], seed)
    ]
    return picks, int(np.argmax(values.mean(axis=1)))


def reference(params: dict) -> bool:
    """A row of the reference EASE: λ, positives and popularity settings only (no EDLAE, degree
    normalisation, rating targets or dislikes)."""
    fit_keys = set(params) - {"popularity_discount", "popularity_blend", "dislike_weight"}
    return fit_keys <= {"l2", "min_rating"} and params.get("dislike_weight", 0.0) == 0.0


def load_rows(name: str, folder: Path) -> dict[str, list] | None:
    """One family's rows saved by :meth:`Study.save`, protocol → [(params, per-user dict)]
    (None when there are none)."""
    if not (folder / f"{name}.json").exists():
        return None
    params = json.loads((folder / f"{name}.json").read_text())
    with np.load(folder / f"{name}.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return {
        proto: [
            (
                cfg,
                {k.split(":", 1)[1]: v[i] for k, v in arrays.items() if k.startswith(f"{proto}:")},
            )
            for i, cfg in enumerate(cfgs)
        ]
        for proto, cfgs in params.items()
    }


def check_embedder(embedder: str, workspace, validation_users: np.ndarray) -> str:
    """The embedder ``auto`` means, refused when it was fine-tuned on any validation user
    (its settings chosen on them would be leaked): train one with ``animerec finetune --users
    train-minus-validation``, or pass ``--embedder minilm``."""
    name = resolve_auto(embedder, workspace)
    seen = training_users(name, workspace)
    if seen is not None:
        leaked = np.intersect1d(seen, validation_users)
        if len(leaked):
            raise SystemExit(
                f"embedder {name!r} was fine-tuned on ratings of {len(leaked):,} of the "
                f"{len(validation_users):,} validation users: its figures here would be leaked "
                "(train one with `animerec finetune --users train-minus-validation`, or use "
                "--embedder minilm)"
            )
    return name


class Study:
    def __init__(self, workspace: Path, quick: bool, embedder: str) -> None:
        from animerec.workspace import Workspace

        self.ws = Workspace.open(workspace)
        self.context = Context(workspace=self.ws)
        self.catalog = Catalog.read(self.ws.anime)
        dev = protocol_split(Ratings.read(self.ws.ratings))
        v = validation_split(dev.train)
        carved = np.setdiff1d(dev.train_users, v.train_users)
        embedder = check_embedder(embedder, self.ws, carved)
        self.train = v.train
        everything = Ratings(
            np.concatenate([v.history.user_id, v.heldout.user_id]),
            np.concatenate([v.history.anime_id, v.heldout.anime_id]),
            np.concatenate([v.history.rating, v.heldout.rating]),
        )
        users, hists = histories_from_ratings(v.history)
        self.protocols = [Protocol("holdout", users, hists, v.heldout)]
        self.protocols += [likes_protocol(everything, n) for n in LIKES]
        self.protocols += [likes_protocol(everything, n, dislikes=1) for n in DISLIKE_AT]
        self.families = families(quick, embedder)
        self.rows: dict[str, dict[str, list]] = {}
        """family → protocol → list of (params, per-user dict)."""

    def run(self, name: str, log) -> None:
        fam = self.families[name]
        score_axes = fam.get("score", {})
        out = self.rows.setdefault(name, {p.name: [] for p in self.protocols})
        for cfg in fam["fits"]:
            t0 = time.perf_counter()
            model = make_recommender(fam["model"], self.context, **cfg)
            model.fit(self.train, self.catalog)
            fit_s = time.perf_counter() - t0
            for p in self.protocols:
                disl = fam.get("dislike", []) if "+d" in p.name or p.name == "holdout" else []
                axes = {**score_axes, **({"dislike_weight": disl} if disl else {})}
                for sc in grid(**axes) if axes else [{}]:
                    m = rescored(model, sc)
                    res = per_user(top_ids(m, p.histories, self.catalog), p)
                    if p.without is not None:
                        alone = per_user(top_ids(m, p.without, self.catalog), p)
                        res["det_without"], res["ndcg_without"] = alone["det"], alone["ndcg"]
                    out[p.name].append(({**cfg, **sc}, res))
            log(f"{name} {cfg}: fit {fit_s:.1f}s, scored in {time.perf_counter() - t0:.1f}s")

    def save(self, name: str, folder: Path) -> None:
        """One family's per-user grid: ``<name>.json`` (the params) and ``<name>.npz``."""
        folder.mkdir(parents=True, exist_ok=True)
        params, arrays = {}, {}
        for proto, rows in self.rows[name].items():
            params[proto] = [r[0] for r in rows]
            for key in rows[0][1]:
                arrays[f"{proto}:{key}"] = np.stack([r[1][key] for r in rows])
        with open(folder / f"{name}.tmp.npz", "wb") as f:
            np.savez(f, **arrays)
        (folder / f"{name}.tmp.json").write_text(json.dumps(params) + "\n")
        (folder / f"{name}.tmp.npz").replace(folder / f"{name}.npz")
        (folder / f"{name}.tmp.json").replace(folder / f"{name}.json")

    def load(self, name: str, folder: Path) -> bool:
        """Read a family saved by :meth:`save` (False when there is none)."""
        rows = load_rows(name, folder)
        if rows is not None:
            self.rows[name] = rows
        return rows is not None

    def summary(self, names: list[str]) -> dict:
        """Per protocol and model: the choice, cross-fitted NDCG and paired deltas (a family
        that ``extends`` another adds its rows to that one's)."""
        for name, fam in self.families.items():
            base = fam.get("extends")
            if base and name in self.rows and base in self.rows:
                for proto, rows in self.rows.pop(name).items():
                    self.rows[base][proto] += rows
        names = [n for n in names if not self.families[n].get("extends")]
        entries = [("popularity", "popularity", None), ("ease (tuned)", REFERENCE, reference)]
        entries += [("ease + refinements" if n == "ease" else n, n, None) for n in names]
        table = {}
        for p in self.protocols:
            cells, oos = {}, {}
            for key, fam, keep in entries:
                rows = self.rows.get(fam, {}).get(p.name)
                if rows and keep is not None:
                    rows = [r for r in rows if keep(r[0])]
                if rows:
                    cells[key], oos[key] = self._cell(rows)
            ref, pop = oos.get("ease (tuned)"), oos.get("popularity")
            for key, v in oos.items():
                if ref is not None:
                    cells[key]["vs_ease"] = bootstrap_ci(v["ndcg"] - ref["ndcg"]).as_dict()
                if pop is not None:
                    cells[key]["vs_popularity"] = bootstrap_ci(v["ndcg"] - pop["ndcg"]).as_dict()
                if "det_without" in v:
                    d = v["det"] - v["det_without"]
                    cells[key]["det_with_minus_without"] = bootstrap_ci(d).as_dict()
                    n = v["ndcg"] - v["ndcg_without"]
                    cells[key]["ndcg_with_minus_without"] = bootstrap_ci(n).as_dict()
            table[p.name] = {"n_users": len(p.users), "models": cells}
        return table

    @staticmethod
    def _cell(rows: list) -> tuple[dict, dict]:
        """One model in one protocol: its cross-fitted per-user values and a summary."""
        nd = np.stack([r[1]["ndcg"] for r in rows])
        picks, best = crossfit(nd)
        oos = {}
        for key in ("ndcg", "det", "det_without", "ndcg_without"):
            if key in rows[0][1]:
                v = np.empty(nd.shape[1])
                for fold, c in picks:
                    v[fold] = rows[c][1][key][fold]
                oos[key] = v
        cell = {
            "best": rows[best][0],
            "in_sample_ndcg": float(nd[best].mean()),
            "ndcg": bootstrap_ci(oos["ndcg"]).as_dict(),
            "det": float(oos["det"].mean()),
            "picked_by_half": [rows[c][0] for _, c in picks],
            "configs": len(rows),
        }
        if "det_without" in oos:
            cell["det_without"] = float(oos["det_without"].mean())
            cell["ndcg_without"] = float(oos["ndcg_without"].mean())
            cell["dislike_sweep"] = Study._sweep(rows)
        return cell, oos

    @staticmethod
    def _sweep(rows: list) -> dict[str, dict]:
        """At the best setting that ignores the dislike (weight 0), each dislike weight's
        paired effect of giving the dislike: Δ detractors and Δ NDCG, with minus without."""
        base = [i for i, r in enumerate(rows) if r[0].get("dislike_weight", 0.0) == 0.0]
        best = rows[max(base, key=lambda i: rows[i][1]["ndcg"].mean())][0]
        rest = {k: v for k, v in best.items() if k != "dislike_weight"}
        out = {}
        for cfg, res in rows:
            if {k: v for k, v in cfg.items() if k != "dislike_weight"} == rest:
                out[str(cfg.get("dislike_weight", 0.0))] = {
                    "det": bootstrap_ci(res["det"] - res["det_without"]).as_dict(),
                    "ndcg": bootstrap_ci(res["ndcg"] - res["ndcg_without"]).as_dict(),
                }
        return {"at": rest, "by_weight": out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", "-w", required=True, type=Path)
    ap.add_argument("--models", default="itemknn,userknn,content,ease,l3ae,cease,addease,infae")
    ap.add_argument(
        "--embedder",
        default="minilm",
        help="text side of content and the text EASEs (a fine-tuned one must not have learned "
        "from the validation users: `animerec finetune --users train-minus-validation`)",
    )
    ap.add_argument("--quick", action="store_true", help="small grids (a smoke run)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--rerun", action="store_true", help="refit families already saved in --out")
    ap.add_argument(
        "--report", default=None, help="families to tabulate (default: --models) from --out"
    )
    a = ap.parse_args()
    names = [m for m in a.models.split(",") if m]
    study = Study(a.workspace, a.quick, a.embedder)
    unknown = sorted(set(names) - set(study.families))
    if unknown:
        raise SystemExit(
            f"unknown model(s) {', '.join(unknown)}; known: {', '.join(study.families)}"
        )
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", flush=True)

    log(" ".join(f"{p.name}: {len(p.users)} users" for p in study.protocols))
    out = a.out or (study.ws.root / "reports" / "ease_study")
    rows = out / "rows"
    for name in dict.fromkeys(["popularity", REFERENCE, *names]):
        if not a.rerun and study.load(name, rows):
            log(f"{name}: read from {rows}")
            continue
        study.run(name, log)
        study.save(name, rows)
    shown = names if a.report is None else [m for m in a.report.split(",") if m]
    for name in shown:
        if name not in study.rows and not study.load(name, rows):
            raise SystemExit(f"{name} has no saved rows in {rows}: run it with --models")
    table = study.summary(shown)
    text = markdown(table)
    print(text)
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps({"models": shown, "quick": a.quick, "table": table}, indent=2) + "\n")
    tmp.replace(out / "summary.json")
    (out / "summary.md.tmp").write_text(text + "\n")
    (out / "summary.md.tmp").replace(out / "summary.md")
    log(f"wrote {out / 'summary.json'}")


if __name__ == "__main__":
    main()
