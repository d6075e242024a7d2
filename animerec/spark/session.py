"""The SparkSession every Spark step runs in: a cluster (``--master`` / ``SPARK_REMOTE``) or local.

Spark is an optional extra (``pip install animerec[spark]``), so it is imported here and only when
asked for; a missing ``pyspark`` or ``java`` becomes a one-line :class:`AnimerecError` rather than a
traceback. Logs are cut to errors: Spark's INFO chatter would bury the command's own output.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from animerec.errors import AnimerecError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

REMOTE_ENV = "SPARK_REMOTE"
_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
# The logger of PySpark's gateway: at the root's level, Spark neither lowers the console's
# threshold to WARN nor prints "Setting default log level".
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""


__all__ = ["SparkSettings", "cli_session", "parse_conf", "spark_session"]


@dataclass(frozen=True)
class SparkSettings:
    """Where Spark runs and how big its local JVM is (settings a cluster ignores are harmless)."""

    master: str | None = None
    """``local[4]``, ``spark://host:7077``, ``yarn``…; None: ``$SPARK_REMOTE`` (Spark Connect)
    if set, else ``local[*]``."""
    driver_memory: str = "4g"
    """Heap of the driver JVM; in local mode the executors live in it, so this bounds the job."""
    conf: dict[str, str] = field(default_factory=dict)
    """Any other Spark settings (``spark.sql.shuffle.partitions``…), applied last."""
    app_name: str = "animerec"


def _import_pyspark():
    warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")
    try:
        import pyspark
        from pyspark.sql import SparkSession
    except ImportError:
        raise AnimerecError(
            "the Spark engine needs PySpark: pip install 'animerec[spark]'"
        ) from None
    return pyspark, SparkSession


def _log4j_file() -> Path:
    path = Path(tempfile.gettempdir()) / "animerec-spark-log4j2.properties"
    if not path.exists() or path.read_text() != _LOG4J:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(_LOG4J)
        os.replace(tmp, path)
    return path


def spark_session(settings: SparkSettings | None = None) -> SparkSession:
    """A started (or the already running) SparkSession for ``settings``.

    Local mode runs the Python side with this interpreter and keeps shuffles small (2 × cores
    partitions, adaptive execution on), which is what a laptop-sized job wants.
    """
    settings = settings or SparkSettings()
    _, SparkSession = _import_pyspark()
    remote = os.environ.get(REMOTE_ENV) if settings.master is None else None
    builder = SparkSession.builder.appName(settings.app_name)
    if remote:
        builder = builder.remote(remote)
    else:
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise AnimerecError(
                "the Spark engine needs Java 17 or newer (`java` is not on PATH and JAVA_HOME is "
                "unset): apt-get install openjdk-17-jre-headless, or set --master/SPARK_REMOTE"
            )
        master = settings.master or "local[*]"
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        log4j = f"-Dlog4j2.configurationFile={_log4j_file().as_uri()}"
        builder = (
            builder.master(master)
            .config("spark.driver.memory", settings.driver_memory)
            .config("spark.driver.extraJavaOptions", log4j)
            .config("spark.executor.extraJavaOptions", log4j)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.adaptive.enabled", "true")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        )
        if master.startswith("local"):
            builder = builder.config("spark.sql.shuffle.partitions", str(2 * _local_cores(master)))
    for key, value in settings.conf.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM failed to start, the cluster is unreachable…
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AnimerecError(
            f"cannot start Spark ({remote or settings.master or 'local[*]'}): {first}"
        ) from None
    if not remote:
        spark.sparkContext.setLogLevel("ERROR")
    return spark


def _local_cores(master: str) -> int:
    """The thread count of a ``local[N]`` / ``local[*]`` / ``local`` master."""
    inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
    inside = inside.split(",")[0].strip()
    if inside == "*":
        return os.cpu_count() or 1
    return max(1, int(inside)) if inside.isdigit() else 1


def parse_conf(items: list[str] | None) -> dict[str, str]:
    """``["key=value", …]`` from the command line → a dict (a clear error on a bad item)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise AnimerecError(f"--spark-conf takes key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


@contextmanager
def cli_session(master: str | None, conf: list[str] | None) -> Iterator[SparkSession]:
    """The session the command-line options ask for, stopped at the end unless it was already
    running in this process (then it is someone else's)."""
    settings = parse_conf(conf)
    memory = settings.pop("spark.driver.memory", SparkSettings.driver_memory)
    _, SparkSession = _import_pyspark()
    existing = SparkSession.getActiveSession()
    spark = spark_session(SparkSettings(master=master, driver_memory=memory, conf=settings))
    try:
        yield spark
    finally:
        if existing is None:
            spark.stop()
