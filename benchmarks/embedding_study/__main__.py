"""``python -m benchmarks.embedding_study -w WS STEP ...``."""

from .cli import main

main()
