"""Command-line options that choose the engine, shared by ``animerec ingest`` and ``labels``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from animerec.errors import AnimerecError

__all__ = ["Engine", "EngineOpt", "MasterOpt", "SparkConfOpt", "check_engine"]


class Engine(StrEnum):
    embedded = "embedded"
    spark = "spark"


EngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="embedded (numpy/DuckDB on this machine) or spark (PySpark: local, --master or "
        "$SPARK_REMOTE); both give the same tables.",
        case_sensitive=False,
    ),
]
MasterOpt = Annotated[
    str | None,
    typer.Option(
        "--master",
        help="Spark master (local[4], spark://host:7077, yarn…); default $SPARK_REMOTE, else "
        "local[*]. Only with --engine spark.",
        show_default=False,
    ),
]
SparkConfOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--spark-conf",
        help="A Spark setting key=value (repeatable), e.g. spark.driver.memory=8g.",
        show_default=False,
    ),
]


def check_engine(engine: Engine, master: str | None, conf: list[str] | None) -> None:
    """Spark options without ``--engine spark`` are a mistake worth one line, not silence."""
    if engine is not Engine.spark and (master or conf):
        raise AnimerecError("--master and --spark-conf need --engine spark")
