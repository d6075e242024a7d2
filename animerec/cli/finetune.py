"""``animerec finetune``: teach a text embedder what fans co-like, and register it by name.

Every option's default is read from :data:`animerec.finetune.RECOMMENDED` (the study's winning
run), so ``animerec finetune --out anime-minilm --users train`` trains the recommended model.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated

import typer
from rich.console import Console

from animerec.cli._app import WorkspaceOpt, app, workspace
from animerec.cli.labels import resolve_users
from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings
from animerec.embed.registry import DEFAULT_FINETUNED
from animerec.errors import AnimerecError
from animerec.finetune import RECOMMENDED, FinetuneSettings, PairSettings

__all__ = ["finetune", "parse_duration"]

R, P = RECOMMENDED, RECOMMENDED.pairs

USERS_HELP = (
    "Whose ratings make the training pairs: `train` (the protocol's training users — evaluation "
    "users never shape the model), `train-minus-validation` (those minus the validation users "
    "the studies choose settings on: benchmarks/ease_study.py may then use the model), `all` "
    "(every user, for production) or a file of user ids."
)


def parse_duration(text: str | None) -> float | None:
    """``90``, ``90s``, ``25m``, ``1.5h`` → seconds (None stays None)."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not m:
        raise AnimerecError(f"--time-budget {text!r} is not a duration like 90s, 25m or 1.5h")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


@app.command()
def finetune(
    ws_path: WorkspaceOpt = None,
    out: Annotated[
        str,
        typer.Option(
            "--out",
            help="Name of the new embedder (saved as WS/models/NAME); the default name is what "
            "content and hybrid use when their embedder is `auto`.",
        ),
    ] = DEFAULT_FINETUNED,
    base: Annotated[
        str, typer.Option(help="Base embedder: minilm, mpnet, a fine-tuned name or a directory.")
    ] = R.base,
    loss: Annotated[
        str,
        typer.Option(
            help="cosine (CosineSimilarityLoss, the book's), cosent (CoSENTLoss) or mnrl "
            "(MultipleNegativesRankingLoss, batches without duplicates)."
        ),
    ] = R.loss,
    recipe: Annotated[
        str,
        typer.Option(
            help="Training pairs: ease (EASE-teacher neighbours), jaccard, lift, or book "
            "(agreement labels)."
        ),
    ] = P.recipe,
    method: Annotated[
        str,
        typer.Option(
            help="full (train every encoder weight) or adapter (freeze the encoder, train a "
            "linear layer over its cached vectors: tens of epochs in minutes on a CPU; the "
            "study's winner, docs/experiments.md)."
        ),
    ] = R.method,
    max_seq_length: Annotated[
        int,
        typer.Option(
            help="Tokens per description (384 leaves 99.4% of descriptions whole and recommended "
            "best in the study; use 128 with --method full on a CPU)."
        ),
    ] = R.max_seq_length,
    epochs: Annotated[
        float | None,
        typer.Option(
            help="Passes over the training pairs [full: 1, adapter: 30].", show_default=False
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(help="Pairs per step [full: 32, adapter: 256].", show_default=False),
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(
            "--lr", help="Peak learning rate [full: 5e-5, adapter: 1e-3].", show_default=False
        ),
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option(help="Stop after this many steps.", show_default=False)
    ] = None,
    time_budget: Annotated[
        str | None,
        typer.Option(help="Stop training after this long (e.g. 25m).", show_default=False),
    ] = None,
    max_pairs: Annotated[
        int | None,
        typer.Option(help="Keep at most this many training pairs.", show_default=False),
    ] = None,
    mini_batch_size: Annotated[
        int | None,
        typer.Option(
            help="mnrl: CachedMultipleNegativesRankingLoss with this mini-batch (large batches).",
            show_default=False,
        ),
    ] = None,
    users: Annotated[str, typer.Option(help=USERS_HELP)] = "train",
    neighbours: Annotated[
        int, typer.Option(help="Neighbour recipes: partners per anime.")
    ] = P.neighbours,
    min_raters: Annotated[
        int, typer.Option(help="Neighbour recipes: anchors need this many raters.")
    ] = P.min_raters,
    hard_negatives: Annotated[
        str,
        typer.Option(
            help="mnrl: none, detracted (pairs fans split on), mined (close for the base "
            "encoder, not co-liked) or rare (anime 1–9 users rated: the study's winner on "
            "new anime, docs/experiments.md)."
        ),
    ] = P.hard_negatives,
    min_corated: Annotated[
        int, typer.Option(help="Book labels: fewest co-raters.")
    ] = P.min_corated,
    threshold: Annotated[
        float, typer.Option(help="Book labels: |score| for a ±1 label.")
    ] = P.threshold,
    balance: Annotated[
        bool, typer.Option("--balance/--no-balance", help="Book recipe: equal ±1 pairs.")
    ] = P.balance,
    negative_target: Annotated[
        float, typer.Option(help="Book recipe, pair losses: target cosine of a detracted pair.")
    ] = P.negative_target,
    variant: Annotated[str, typer.Option(help="Description variant: clean or book.")] = R.variant,
    seed: Annotated[
        int, typer.Option(help="Seed of pair sampling, shuffling and dropout.")
    ] = R.seed,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda, mps (default: automatic).", show_default=False)
    ] = R.device,
    bf16: Annotated[
        bool, typer.Option("--bf16", help="Mixed precision (bfloat16) on a capable GPU.")
    ] = R.bf16,
    backend: Annotated[
        str,
        typer.Option(
            help="How the base encoder runs for the catalog vectors an adapter trains on and "
            "writes: torch, onnx or onnx-int8 (2.6-2.9x faster on a CPU; scripts/main.sh's "
            "default). Evaluate and recommend with the same --backend to reuse them."
        ),
    ] = R.backend,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = R.progress,
) -> None:
    """Fine-tune a sentence-transformers embedder on pairs of anime the same fans like."""
    ws = workspace(ws_path)
    ws.require_ingested()
    settings = FinetuneSettings(
        base=base,
        loss=loss,
        method=method,
        max_seq_length=max_seq_length,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=lr,
        max_steps=max_steps,
        time_budget_s=parse_duration(time_budget),
        mini_batch_size=mini_batch_size,
        seed=seed,
        variant=variant,
        device=device,
        bf16=bf16,
        backend=backend,
        progress=progress,
    )
    pairs = PairSettings(
        recipe=recipe,
        seed=seed,
        max_pairs=max_pairs,
        min_corated=min_corated,
        threshold=threshold,
        balance=balance,
        negative_target=negative_target,
        neighbours=neighbours,
        min_raters=min_raters,
        hard_negatives=hard_negatives,
    )
    settings = replace(settings, pairs=pairs)
    # The run loads here: it adds 0.3 s (the recommend package, for the EASE teacher) to every
    # `animerec` command's start-up (python -X importtime -c "import animerec.cli").
    from animerec.finetune.run import finetune as run
    from animerec.finetune.trainer import is_main_process

    console = Console(stderr=True)
    ratings = Ratings.read(ws.ratings)
    catalog = Catalog.read(ws.anime)
    user_ids, source = resolve_users(users, ratings)
    if source == "all":
        console.print(
            "[yellow]note:[/] training on every user includes the protocol's test users: "
            "do not evaluate this model with the protocol split"
        )
    result = run(
        ratings,
        catalog,
        user_ids,
        out,
        workspace=ws,
        settings=settings,
        users_label=source,
        log=lambda msg: console.print(msg),
    )
    if not is_main_process():  # data-parallel: rank 0 reports
        return
    m = result.manifest
    v = m["validation"]

    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.4f}"

    Console().print(
        f"[bold]{result.name}[/]: {m['loss_class']} on {m['training_rows']:,} {m['recipe']['recipe']} "
        f"pairs, {m['steps']} steps, {m['train_s']:.0f} s training ({m['wall_s']:.0f} s in all)\n"
        f"validation Spearman {fmt(v['before'])} → {fmt(v['after'])} on {v['pairs']:,} pairs\n"
        f"saved {result.path}; use it with --embedder {result.name}"
    )
