"""Recommenders by name, and the one place their configuration is resolved.

:func:`resolve` turns a name and the caller's parameters into a :class:`ModelSpec`: the
parameters checked against the model's ``Params``, the ``auto`` embedder pinned to the model it
means in this workspace, tuned values filled in (from whichever tuner the caller passes: the
evaluation's grid search, or the store's read of the tuning cache), and a hybrid's members
resolved the same way. The CLI, the evaluation, the model store and the API all build models
through it; a model's workspace is context given to its constructor, never a parameter.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from animerec.data.catalog import Catalog
from animerec.embed.registry import resolve_auto
from animerec.errors import AnimerecError
from animerec.recommend.adaptive import AdaptiveFinetuned, AdaptiveRecommender
from animerec.recommend.base import Recommender
from animerec.recommend.context import Context
from animerec.recommend.hybrid import HybridRecommender
from animerec.recommend.models import SINGLE_MODELS, UnknownModelError, check_names, lookup
from animerec.recommend.ranker import RankerRecommender
from animerec.recommend.state_files import STATE_DIR, has_state
from animerec.workspace import Workspace

__all__ = [
    "RECOMMENDERS",
    "ModelSpec",
    "Tuner",
    "UnknownModelError",
    "check_model_names",
    "load_recommender",
    "make_recommender",
    "recommender_class",
    "resolve",
]

RECOMMENDERS: dict[str, type[Recommender]] = {
    **SINGLE_MODELS,
    HybridRecommender.name: HybridRecommender,
    AdaptiveRecommender.name: AdaptiveRecommender,
    AdaptiveFinetuned.name: AdaptiveFinetuned,  # the same with the fine-tuned text side
    RankerRecommender.name: RankerRecommender,
}
"""Every registered recommender class by its ``name`` (content and hybrid register here too)."""

Tuner = Callable[[str, type[Recommender], dict[str, Any], Mapping[str, Any] | None], dict[str, Any]]
"""``(cache name, model class, fixed parameters, owner)`` → tuned values for the parameters of
the class's ``search_space`` that ``fixed`` leaves open. ``owner`` is the resolved parameters
of the model whose member this is (None for a model resolved for itself); the cache name is
the model's name, or a member's (``ease/graded`` → ``ease-graded``)."""


def recommender_class(name: str) -> type[Recommender]:
    """The class registered as ``name`` (:class:`UnknownModelError` naming the known ones)."""
    return lookup(name, RECOMMENDERS)


def check_model_names(names: Sequence[str]) -> None:
    """:class:`UnknownModelError` naming every unknown one of ``names`` (before any work)."""
    check_names(names, RECOMMENDERS)


def param_names(cls: type[Recommender]) -> set[str]:
    return {f.name for f in fields(cls.Params)}


def check_params(name: str, params: Mapping[str, Any]) -> type[Recommender]:
    """The class of ``name``, once ``params`` are known to be its parameters."""
    cls = recommender_class(name)
    allowed = param_names(cls)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise AnimerecError(
            f"model {name!r} has no parameter {', '.join(unknown)}; it has: "
            f"{', '.join(sorted(allowed)) or 'none'}"
        )
    return cls


@dataclass(frozen=True)
class ModelSpec:
    """A model resolved once: what to build, with every parameter decided."""

    name: str
    params: dict[str, Any]
    """Complete parameters: defaults ← tuned values ← the caller's (``auto`` pinned)."""
    tuned: dict[str, Any] = field(default_factory=dict)
    """The tuner's choices among :attr:`params`."""
    members: dict[str, ModelSpec] = field(default_factory=dict)
    """A hybrid's members, resolved ({} for a single model)."""

    @property
    def cls(self) -> type[Recommender]:
        return recommender_class(self.name)

    def build(self, context: Context | None = None) -> Recommender:
        """The unfitted model, run in ``context`` (its workspace, the run's fit pool)."""
        return self.cls.build(self.params, context)

    def embedders(self) -> list[tuple[str, str]]:
        """``(which model, embedder)`` for this model and its members where one is named."""
        out = [(self.name, str(self.params["embedder"]))] if self.params.get("embedder") else []
        for member, spec in self.members.items():
            out += [(f"{self.name} member {member}", e) for _, e in spec.embedders()]
        return out


def resolve(
    name: str,
    params: Mapping[str, Any] | None = None,
    workspace: Workspace | None = None,
    *,
    tuner: Tuner | None = None,
    member_tuner: Tuner | None = None,
    cache_name: str | None = None,
    owner: Mapping[str, Any] | None = None,
) -> ModelSpec:
    """Model ``name`` with ``params`` resolved: unknown names and parameters refused, the
    ``auto`` embedder pinned for ``workspace``, the values ``tuner`` chooses for the rest of
    the model's search space, and each member (of a hybrid) resolved with ``member_tuner``."""
    cls = check_params(name, params or {})
    given = dict(params or {})
    defaults = asdict(cls.Params())
    if defaults.get("embedder") or given.get("embedder"):
        # "auto" means a model now; pinned, so every cache keys on the model it means
        given["embedder"] = resolve_auto(given.get("embedder", defaults["embedder"]), workspace)
    space = {k: v for k, v in cls.search_space.items() if k not in given}
    tuned = tuner(cache_name or name, cls, given, owner) if tuner is not None and space else {}
    resolved = {**defaults, **tuned, **given}
    members = {
        member: resolve(
            model,
            fixed,
            workspace,
            tuner=member_tuner if tune else None,
            cache_name=member.replace("/", "-"),
            owner=resolved,
        )
        for member, (model, fixed, tune) in cls.members_of(resolved).items()
    }
    if members:
        resolved["member_params"] = {m: spec.params for m, spec in members.items()}
    return ModelSpec(name, resolved, tuned, members)


def make_recommender(name: str, context: Context | None = None, **params: Any) -> Recommender:
    """An unfitted recommender ``name`` with ``params`` over its defaults (unknown ones refused);
    nothing is resolved (no tuning, ``auto`` stays), see :func:`resolve` for that."""
    return check_params(name, params).build(params, context)


def load_recommender(
    path: str | os.PathLike[str], catalog: Catalog, context: Context | None = None
) -> Recommender:
    """A fitted recommender saved with :meth:`Recommender.save`, whichever model it is."""
    path = Path(path)
    meta_path = path / "params.json"
    try:
        meta = json.loads(meta_path.read_text())
        name = meta["model"]
    except FileNotFoundError:
        raise AnimerecError(f"{meta_path} is missing: {path} is not a saved recommender") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise AnimerecError(f"{meta_path} is not a recommender's params.json ({exc})") from None
    if not has_state(path):
        raise AnimerecError(
            f"{path / STATE_DIR} is missing: the saved {name} model is incomplete (refit it)"
        )
    return recommender_class(name).load(path, catalog, context)
