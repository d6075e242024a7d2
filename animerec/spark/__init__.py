"""The Spark engine: the heavy data steps (ingest, pair labels, ALS) on a Spark cluster.

The default engine is embedded (numpy, scipy, DuckDB) and needs no JVM. This one gives the same
results on data that has outgrown one machine; it needs ``pip install animerec[spark]`` and Java 17
(local mode) or a cluster (``--master`` / ``SPARK_REMOTE``). Nothing here imports PySpark until a
Spark step runs.
"""

from animerec.spark.session import SparkSettings, parse_conf, spark_session

ENGINES = ("embedded", "spark")

__all__ = ["ENGINES", "SparkSettings", "parse_conf", "spark_session"]
