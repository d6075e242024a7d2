"""What both ingest engines share: finding the MAL files of a data folder, and publishing the result.

The embedded engine (:mod:`animerec.data.ingest`) and the Spark one (:mod:`animerec.spark.ingest`)
read the same files and must leave the same workspace behind; these two steps are theirs alike.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from animerec.data.schema import find_file
from animerec.errors import DataError
from animerec.workspace import Workspace, now_iso, write_json

__all__ = ["InputFiles", "find_inputs", "publish"]


@dataclass(frozen=True)
class InputFiles:
    """The MAL files of a data folder; the ratings come from either or both rating files."""

    anime: Path
    synopsis: Path
    ratings: Path | None
    animelist: Path | None

    @property
    def paths(self) -> list[Path]:
        """Every file present, in a fixed order (what the data fingerprint hashes)."""
        return [p for p in (self.anime, self.synopsis, self.ratings, self.animelist) if p]


def find_inputs(data_dir: Path) -> InputFiles:
    """The files of ``data_dir`` (plain or ``.gz``); a clear error names what is missing."""
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data folder not found")
    files = InputFiles(
        anime=find_file(data_dir, "anime"),
        synopsis=find_file(data_dir, "anime_with_synopsis"),
        ratings=find_file(data_dir, "rating_complete", required=False),
        animelist=find_file(data_dir, "animelist", required=False),
    )
    if files.ratings is None and files.animelist is None:
        raise DataError(f"{data_dir / 'rating_complete.csv'}: file not found (nor animelist.csv)")
    return files


def stage(tmp: Path, catalog: pd.DataFrame, summary: Any, t0: float, **manifest: Any) -> None:
    """Write the catalog and the manifest into ``tmp`` beside the ratings and rejects, so that a
    full disk stops ingest before anything is published (the old workspace untouched).

    ``summary`` is the run's :class:`~animerec.data.ingest.IngestSummary` (its ``seconds`` are set
    here, from ``t0``); ``manifest`` adds keys after ``ingest`` (the Spark engine's name).
    """
    catalog.to_parquet(tmp / "anime.parquet", index=False)
    summary.seconds = round(time.perf_counter() - t0, 2)
    write_json(
        tmp / "manifest.json",
        {"ingest": asdict(summary), **manifest, "created": now_iso(), "tool": "animerec"},
    )


def publish(workspace: Workspace, tmp: Path) -> None:
    """Rename each staged artefact of ``tmp`` into place: renames only, the manifest last so it
    vouches for the rest."""
    os.replace(tmp / "anime.parquet", workspace.anime)
    os.replace(tmp / "ratings.parquet", workspace.ratings)
    os.replace(tmp / "rejects.csv", workspace.rejects)
    os.replace(tmp / "manifest.json", workspace.manifest)
