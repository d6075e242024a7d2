"""Fitted recommenders kept in the workspace, so the CLI and the API fit a model once.

:func:`fitted` returns a model fitted on *all* users of the workspace (they are all training
users, DESIGN §6). A fit is saved under ``WS/models/recommenders/<name>-<key>/`` — the model's
own ``params.json`` + ``state/*.npy`` (never pickle; memory-mapped when loaded, so the workers of
``serve --workers N`` share one copy) and a ``manifest.json`` — where ``key`` hashes everything
that decides the fit: the model name, its full parameters, the data fingerprint of the
workspace, and the embedder's weights fingerprint. A later call with the same inputs loads it;
any change fits anew, so a stale model is never served.

Parameters: the class defaults, then the choice of ``animerec evaluate``'s grid search when it
cached one (``WS/tuning/<name>.json``, see :mod:`animerec.evaluate.tune`), then what the caller
passes. The hybrid takes its members' cached choices the same way and does not tune them again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from animerec.data.catalog import Catalog
from animerec.data.fingerprint import workspace_fingerprint
from animerec.data.ratings import Ratings
from animerec.embed.registry import get_embedder
from animerec.errors import AnimerecError
from animerec.recommend.base import Recommender
from animerec.recommend.context import Context
from animerec.recommend.registry import Tuner, param_names, recommender_class, resolve
from animerec.recommend.state_files import is_legacy
from animerec.workspace import (
    Workspace,
    atomic_path,
    now_iso,
    read_entries,
    read_json,
    write_json,
)

STORE_DIR = "recommenders"
MODEL_DIR = "model"
MANIFEST = "manifest.json"
LOCAL_PARAMS = ("workspace",)
"""Parameters that say where things are, not what is fitted: left out of the key (no model has
one now; older manifests do)."""

fit_count = 0
"""Fits done by :func:`fitted` in this process (tests check reuse with it)."""


def _same(a: Any, b: Any) -> bool:
    """Equal once written as JSON (a tuple and the list it was saved as are the same)."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def tuned_params(
    workspace: Workspace, name: str, resolved: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The grid-search choice cached for ``name`` in ``WS/tuning`` ({} when none applies).

    :mod:`animerec.evaluate.tune` keeps one entry per setting; an entry applies when every
    parameter it did not search equals ``resolved`` (the model's other parameters), and the most
    recent such entry wins.
    """
    entries = read_entries(workspace.sub("tuning", f"{name}.json"), name)
    for entry in reversed(list(entries.values())):
        base = entry.get("settings", {}).get("base", {})
        best = entry.get("best")
        if not isinstance(best, dict):
            continue
        if resolved is None or all(
            k == "workspace" or _same(resolved.get(k), v) for k, v in base.items()
        ):
            return dict(best)
    return {}


def cached_tuner(workspace: Workspace) -> Tuner:
    """A :data:`~animerec.recommend.registry.Tuner` that reads what ``animerec evaluate``'s
    grid search cached in ``workspace`` (:func:`tuned_params`) instead of searching again."""

    def tuner(
        cache_name: str,
        cls: type[Recommender],
        fixed: dict[str, Any],
        owner: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        return tuned_params(workspace, cache_name, {**asdict(cls.Params()), **fixed})

    return tuner


def resolve_params(
    workspace: Workspace,
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    embedder: str | None = None,
) -> dict[str, Any]:
    """The full parameters :func:`fitted` uses: defaults ← cached tuning ← ``params``; a
    hybrid's members take the tuning cached for them (``WS/tuning/ease-graded.json`` for
    member ``ease/graded``) instead of tuning again on all users."""
    params = dict(params or {})
    if embedder is not None:
        if "embedder" not in param_names(recommender_class(name)):
            raise AnimerecError(f"model {name!r} takes no embedder (only content and hybrid do)")
        params["embedder"] = embedder
    tuner = cached_tuner(workspace)
    return resolve(name, params, workspace, tuner=tuner, member_tuner=tuner).params


def embedder_fingerprint(workspace: Workspace, params: Mapping[str, Any]) -> str | None:
    """Name and weights fingerprint of the embedder a content model uses (None if it has none)."""
    names = {params.get("embedder")} if "embedder" in params else set()
    if not names or None in names:
        return None
    emb = get_embedder(
        str(params["embedder"]), workspace=workspace, max_seq_length=params.get("max_seq_length")
    )
    return f"{emb.name}:{emb.fingerprint}"


def model_key(name: str, params: Mapping[str, Any], data: str, embedder: str | None) -> str:
    fixed = {k: v for k, v in params.items() if k not in LOCAL_PARAMS}
    blob = json.dumps(
        {"model": name, "params": fixed, "data": data, "embedder": embedder},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def store_path(workspace: Workspace, name: str, key: str) -> Path:
    return workspace.models_dir / STORE_DIR / f"{name}-{key}"


def upgraded(
    model: Recommender,
    folder: Path,
    catalog: Catalog,
    context: Context,
    log: Callable[[str], None] | None,
) -> Recommender:
    """A model read from an older ``state.npz`` rewritten once as memory-mapped ``.npy`` files
    (the same arrays, swapped in atomically) and loaded from them, so later loads share pages;
    where the folder can't be written (a read-only workspace) the loaded copy serves as is."""
    try:
        model.save(folder)
    except OSError as exc:
        if log is not None:
            log(f"{folder} holds an older state.npz and could not be rewritten as .npy ({exc})")
        return model
    if log is not None:
        log(f"rewrote the older state.npz of {folder} as memory-mapped .npy files")
    return type(model).load(folder, catalog, context)


def fitted(
    workspace: Workspace | str | os.PathLike[str],
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    embedder: str | None = None,
    refit: bool = False,
    log: Callable[[str], None] | None = None,
) -> Recommender:
    """Model ``name`` fitted on every user of ``workspace``: loaded if saved, else fitted and saved.

    ``params`` override the defaults and the cached tuning; ``embedder`` sets the embedder of
    ``content``/``hybrid``; ``refit`` ignores a saved fit.
    """
    global fit_count
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
    ws.require_ingested()
    cls = recommender_class(name)
    context = Context(ws)
    full = resolve_params(ws, name, params, embedder=embedder)
    data = workspace_fingerprint(ws)
    emb = embedder_fingerprint(ws, full)
    key = model_key(name, full, data, emb)
    target = store_path(ws, name, key)
    catalog = Catalog.read(ws.anime)

    if not refit and (target / MANIFEST).exists():
        try:
            manifest = read_json(target / MANIFEST)
            if manifest.get("key") == key:
                model = cls.load(target / MODEL_DIR, catalog, context)
                if is_legacy(target / MODEL_DIR):
                    return upgraded(model, target / MODEL_DIR, catalog, context, log)
                return model
        except (OSError, ValueError, KeyError, AnimerecError) as exc:
            if log is not None:
                log(f"saved {name} model at {target} is unusable ({exc}); fitting again")

    ratings = Ratings.read(ws.ratings)
    if log is not None:
        log(
            f"fitting {name} on {len(ratings.users):,} users of {ws.root} "
            f"(first use; saved to {target})"
        )
    model = cls.build(full, context)
    model.fit(ratings, catalog)
    fit_count += 1
    with atomic_path(target) as tmp:
        tmp.mkdir()
        model.save(tmp / MODEL_DIR)
        write_json(
            tmp / MANIFEST,
            {
                "key": key,
                "model": name,
                "params": full,
                "data_fingerprint": data,
                "embedder": emb,
                "n_users": int(len(ratings.users)),
                "n_ratings": len(ratings),
                "fitted": now_iso(),
            },
        )
    return model
