"""The Spark session helpers: settings parsing and clear errors, without starting a JVM."""

from __future__ import annotations

import pytest

from animerec.errors import AnimerecError
from animerec.spark import session as session_mod
from animerec.spark.options import Engine, check_engine
from animerec.spark.session import SparkSettings, _local_cores, parse_conf


def test_parse_conf() -> None:
    assert parse_conf(["spark.a=1", " spark.b = x=y "]) == {"spark.a": "1", "spark.b": "x=y"}
    assert parse_conf(None) == {}
    with pytest.raises(AnimerecError, match="key=value"):
        parse_conf(["spark.a"])


def test_local_cores() -> None:
    assert _local_cores("local[3]") == 3
    assert _local_cores("local") == 1
    assert _local_cores("local[2,4]") == 2  # local[N, maxFailures]
    assert _local_cores("local[*]") >= 1


def test_spark_options_need_the_spark_engine() -> None:
    check_engine(Engine.spark, "local[2]", ["spark.a=1"])
    check_engine(Engine.embedded, None, None)
    with pytest.raises(AnimerecError, match="need --engine spark"):
        check_engine(Engine.embedded, "local[2]", None)


def test_missing_java_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_mod.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    with pytest.raises(AnimerecError, match="needs Java 17"):
        session_mod.spark_session(SparkSettings(master="local[1]"))
