"""One local SparkSession for every Spark test (a JVM start costs ~10–20 s)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from animerec.spark.session import SparkSettings, spark_session

    session = spark_session(SparkSettings(master="local[2]", driver_memory="2g"))
    yield session
    session.stop()


def pytest_collection_modifyitems(items) -> None:
    """PySpark 4.x warns about pandas 3 on every conversion; the tests check the results."""
    for item in items:
        if "spark" in item.path.parts:
            item.add_marker(pytest.mark.filterwarnings("ignore:.*pandas.*:FutureWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"))
