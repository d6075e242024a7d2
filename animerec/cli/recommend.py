"""``animerec recommend``: top-k anime for a batch of histories (H.csv → R.csv) or for a person.

Models are fitted on every user of the workspace (all are training users) on first use and kept
in ``WS/models/recommenders`` (:func:`animerec.recommend.store.fitted`); the users of ``H.csv``
are new to them and are folded in from their history. A user the model can say nothing about
(no history anime it knows, so every score ties) gets the most popular anime among the
workspace's fans instead, with a reason that says so — the ranking pipeline's fallback
(:class:`animerec.recommend.pipeline.Fallback`), the same one the API uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from animerec.cli._app import WorkspaceOpt, app, workspace
from animerec.data.history_file import read_history
from animerec.errors import AnimerecError

DEFAULT_MODEL = "adaptive"
RESULT_COLUMNS = ("user_id", "anime_id", "rank", "score", "reason")
BATCH_USERS = 1024


def write_results(path: Path, users: np.ndarray, recs: list) -> int:
    """Write ``R.csv`` atomically; returns the number of rows."""
    import pandas as pd

    from animerec.workspace import atomic_path

    rows = [
        (int(u), r.anime_id, rank, r.score, r.reason)
        for u, lst in zip(users, recs, strict=True)
        for rank, r in enumerate(lst, start=1)
    ]
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
    return len(frame)


@app.command()
def recommend(
    ws: WorkspaceOpt = None,
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            help="CSV of user_id,anime_id,rating: recommend for each user in it (needs --out).",
            show_default=False,
        ),
    ] = None,
    liked: Annotated[
        list[str] | None,
        typer.Option(
            "--liked", help="Title of an anime you liked (repeatable; name or English name)."
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", help="Recommendations per user.")] = 10,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="adaptive (default: per history length), popularity, itemknn, userknn, ease, als, content or hybrid.",
        ),
    ] = DEFAULT_MODEL,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write R.csv (user_id,anime_id,rank,score,reason)."),
    ] = None,
    explore: Annotated[
        float,
        typer.Option(
            "--explore", help="0 = best matches; up to 1 = more diverse, less popular titles."
        ),
    ] = 0.0,
    embedder: Annotated[
        str | None,
        typer.Option(
            "--embedder", help="Embedder of content and hybrid (minilm, mpnet, a fine-tuned name)."
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend", help="How content and hybrid run the embedder: torch, onnx or onnx-int8."
        ),
    ] = None,
    exclude_seen: Annotated[
        bool,
        typer.Option(
            "--exclude-seen/--include-seen", help="Leave out anime already in the history."
        ),
    ] = True,
    spread: Annotated[
        bool,
        typer.Option(
            "--spread",
            help="--history: spread the batch's lists over more of the catalog (each list keeps "
            "its first 8; the other slots take the user's top-40 anime recommended least so far).",
        ),
    ] = False,
    dislike_strength: Annotated[
        float,
        typer.Option(
            "--dislike-strength",
            help="How far your dislikes (ratings <= 5, dropped titles) push down what fans who "
            "disliked the same titles also disliked (0 = off, the default; 0.5 = validated "
            "for EASE; docs/experiments.md 'Dislikes count').",
        ),
    ] = 0.0,
    refit: Annotated[
        bool, typer.Option("--refit", help="Fit the model again even if a fit is saved.")
    ] = False,
    mal_export: Annotated[
        Path | None,
        typer.Option(
            "--mal-export",
            help="Your MyAnimeList list ('Export my list' XML, plain or .gz, or Kaggle "
            "animelist.csv rows): scored completed titles are the history; watching, on hold, "
            "plan to watch and dropped titles are left out of the results (dropped = disliked).",
            show_default=False,
        ),
    ] = None,
    include_adult: Annotated[
        bool, typer.Option("--include-adult", help="Allow adult (Rx - Hentai) titles.")
    ] = False,
    no_mild_nudity: Annotated[
        bool, typer.Option("--no-mild-nudity", help="Leave out 'R+ - Mild Nudity' titles.")
    ] = False,
    types: Annotated[
        list[str] | None,
        typer.Option(
            "--type", help="Only this type (repeatable): TV, Movie, OVA, ONA, Special, Music."
        ),
    ] = None,
    year_min: Annotated[
        int | None, typer.Option("--year-min", help="First aired in or after.")
    ] = None,
    year_max: Annotated[
        int | None, typer.Option("--year-max", help="First aired in or before.")
    ] = None,
    seasons: Annotated[
        list[str] | None, typer.Option("--season", help="Premiered in this season (repeatable).")
    ] = None,
    genres: Annotated[
        list[str] | None, typer.Option("--genre", help="Has one of these genres (repeatable).")
    ] = None,
    exclude_genres: Annotated[
        list[str] | None, typer.Option("--exclude-genre", help="Has none of these (repeatable).")
    ] = None,
    min_episodes: Annotated[
        int | None, typer.Option("--min-episodes", help="At least this many episodes.")
    ] = None,
    franchise: Annotated[
        bool,
        typer.Option(
            "--franchise/--no-franchise",
            help="Entry points before sequels, one title per franchise, no recaps or music "
            "videos (at --explore 0 without --spread).",
        ),
    ] = True,
    min_raters: Annotated[
        int | None,
        typer.Option(
            "--min-raters",
            help="At --explore 0, titles fewer users of the workspace rated appear only as "
            "labelled new titles, at most one per list (default: the served rule; 0 = off).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Recommend anime: for every user of --history H.csv (written to --out R.csv), or for a
    person who names titles with --liked."""
    from rich.console import Console

    from animerec.data.catalog import Catalog
    from animerec.embed.registry import check_backend
    from animerec.recommend.registry import check_model_names
    from animerec.recommend.store import fitted

    given = [history is not None, bool(liked), mal_export is not None]
    if sum(given) != 1:
        raise AnimerecError(
            "give one of --history H.csv (with --out R.csv), --liked TITLE or --mal-export FILE"
        )
    if history is not None and out is None:
        raise AnimerecError("--history needs --out R.csv (where to write the recommendations)")
    if k < 1:
        raise AnimerecError(f"--k must be >= 1, got {k}")
    if dislike_strength < 0:
        raise AnimerecError(f"--dislike-strength must be >= 0, got {dislike_strength}")
    if min_raters is not None and min_raters < 0:
        raise AnimerecError(f"--min-raters must be >= 0, got {min_raters}")
    if not 0.0 <= explore <= 1.0:
        raise AnimerecError(f"--explore must be in [0, 1], got {explore}")
    if spread and explore > 0:
        raise AnimerecError("choose --explore (within each list) or --spread (over the batch)")
    if spread and history is None:
        raise AnimerecError("--spread spreads a batch of users: it needs --history H.csv")
    check_model_names([model])  # unknown names fail before any work
    if backend is not None:
        check_backend(backend)

    hidden: tuple[int, ...] = ()
    w = workspace(ws)
    w.require_ingested()
    catalog = Catalog.read(w.anime)
    err = Console(stderr=True)

    if history is not None:
        users, histories = read_history(history, catalog)
    elif mal_export is not None:
        from animerec.data.mal_list import load_list_file
        from animerec.data.ratings import History

        imported = load_list_file(mal_export, catalog)
        if imported.unknown_ids:
            shown = ", ".join(str(a) for a in imported.unknown_ids[:10])
            err.print(
                f"{len(imported.unknown_ids):,} ids of the list are not in the catalog: {shown}"
            )
        rated = dict(imported.history) | {a: 1 for a in imported.dislikes}
        if not rated:
            raise AnimerecError(
                f"{mal_export}: no scored, completed or dropped title of the list is in the catalog"
            )
        users, histories = np.array([0]), [History.of(list(rated), list(rated.values()))]
        hidden = tuple(sorted(imported.excluded - set(rated)))
    else:
        from animerec.data.ratings import History
        from animerec.data.titles import TitleIndex

        ids = TitleIndex(catalog).resolve_all(list(liked or []))
        ids = list(dict.fromkeys(ids))
        users, histories = np.array([0]), [History.of(ids)]

    rec_model = fitted(
        w,
        model,
        {"backend": backend} if backend is not None else None,
        embedder=embedder,
        refit=refit,
        log=lambda m: err.print(f"[dim]{m}[/dim]"),
    )
    # One path for every consumer: the ranking pipeline, its popularity fallback for users the
    # model can say nothing about, then reasons for what is shown.
    from animerec.data.ratings import Ratings
    from animerec.recommend.dislikes import DislikeNeighbours
    from animerec.recommend.evidence import MIN_RATERS, Evidence
    from animerec.recommend.explain import explain
    from animerec.recommend.filters import FilterError, Filters
    from animerec.recommend.pipeline import Fallback, RankOptions, rank_batch
    from animerec.recommend.spread import Spread

    try:
        filters = Filters(
            exclude_seen=exclude_seen,
            exclude=hidden,
            types=tuple(types or ()),
            year_min=year_min,
            year_max=year_max,
            seasons=tuple(seasons or ()),
            genres=tuple(genres or ()),
            exclude_genres=tuple(exclude_genres or ()),
            min_episodes=min_episodes,
            include_adult=include_adult,
            include_mild_nudity=not no_mild_nudity,
        )
        filters.mask(catalog)  # unknown genres fail here, before any model work
    except FilterError as exc:
        raise AnimerecError(f"--{exc.field.replace('_', '-')}: {exc}") from None
    options = RankOptions(
        k=k,
        filters=filters,
        explore=explore,
        spread=Spread() if spread else None,
        dislike_strength=dislike_strength,
        franchise=franchise and history is None and explore == 0,
        min_raters=MIN_RATERS if min_raters is None else min_raters,
    )
    train = Ratings.read(w.ratings)
    fallback, evidence = Fallback.of(train, catalog), Evidence.of(train, catalog)
    dislikes = DislikeNeighbours.of(train, catalog) if options.dislike_strength > 0 else None
    ranked = rank_batch(
        rec_model,
        histories,
        options,
        fallback=fallback,
        dislikes=dislikes,
        evidence=evidence,
        block=BATCH_USERS,
    )
    recs = explain(rec_model, histories, ranked, fallback)

    if history is not None:
        n = write_results(out, users, recs)
        err.print(f"wrote {n:,} recommendations for {len(users):,} users to {out}")
        return

    from rich.table import Table

    from animerec.recommend.explain import title

    liked_names = ", ".join(title(catalog, int(a)) for a in histories[0].anime_ids)
    table = Table(title=f"{model} recommendations for someone who liked {liked_names}")
    for col in ("#", "anime", "id", "score", "reason"):
        table.add_column(col, justify="right" if col in ("#", "id", "score") else "left")
    for rank, r in enumerate(recs[0], start=1):
        table.add_row(
            str(rank), title(catalog, r.anime_id), str(r.anime_id), f"{r.score:.3f}", r.reason
        )
    Console().print(table)
    if out is not None:
        write_results(out, users, recs)
