"""Encoding speed and fidelity: torch fp32 vs ONNX fp32 vs ONNX int8 (MiniLM by default).

Encodes the same N real anime descriptions (the ``clean`` variant of ``animerec.text.describe``
over the sample's anime.csv + anime_with_synopsis.csv, a seeded sample of rows) with each backend
at max_seq_length 128 and 256 (``--seq``). Prints texts/s and the speed-up over torch fp32
measured in the same run (torch at batch 16 and 32, the faster of the two as the baseline: the
ONNX backend picks its own micro-batches by token count), both by wall clock and per CPU-second of the process (which a busy shared machine
disturbs less; neither backend spin-waits: ``OMP_WAIT_POLICY=PASSIVE`` for torch, spinning off in
onnxruntime), then each backend's mean (and minimum) cosine to torch fp32's vectors and the mean
top-10 neighbour overlap among the N texts.

Backends take turns in ``--rounds`` rounds over the texts so background load spreads evenly;
each figure is the median over rounds. The ONNX files are exported and quantised first (into
``$ANIMEREC_CACHE/onnx/<model>``), outside the timings.

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python benchmarks/encode_speed.py --n 1000
    HF_HUB_OFFLINE=1 python benchmarks/encode_speed.py --n 1000 --seq 128 256 384 --rounds 3
    HF_HUB_OFFLINE=1 python benchmarks/encode_speed.py --model mpnet --force-int8 --n 200 --seq 384

(about 6 minutes on 2 quiet cores; the mpnet check about as long). ``--data`` defaults to ``$ANIMEREC_SAMPLE_DATA`` or
``../shared/data/mal-2020-sample``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch loads

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("torch", "onnx", "onnx-int8")


def descriptions(data: Path, n: int, seed: int) -> list[str]:
    """``n`` descriptions of a seeded sample of the catalog, built as the recommender builds them."""
    from animerec.data.ingest import _Rejects, read_catalog
    from animerec.text import describe

    with tempfile.TemporaryDirectory() as tmp:
        rejects = _Rejects(Path(tmp) / "rejects.csv")
        try:
            frame = read_catalog(data / "anime.csv", data / "anime_with_synopsis.csv", rejects)
        finally:
            rejects.close()
    rows = np.sort(
        np.random.default_rng(seed).choice(len(frame), min(n, len(frame)), replace=False)
    )
    return describe(frame.iloc[rows].reset_index(drop=True), "clean")


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int = 10) -> float:
    """Mean share of each text's k nearest neighbours (itself excluded) that two embeddings share."""

    def neighbours(v: np.ndarray) -> np.ndarray:
        sims = v @ v.T
        np.fill_diagonal(sims, -np.inf)
        return np.argpartition(-sims, k, axis=1)[:, :k]

    na, nb = neighbours(a), neighbours(b)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(na, nb, strict=True)]))


def token_stats(texts: list[str], model: str, seqs: list[int]) -> str:
    from transformers import AutoTokenizer

    from animerec.embed import resolve_model_dir

    tok = AutoTokenizer.from_pretrained(resolve_model_dir(model))
    lengths = np.array([len(ids) for ids in tok(texts, verbose=False)["input_ids"]])
    return (
        f"tokens per text: median {int(np.median(lengths))}, mean {lengths.mean():.0f}, "
        + ", ".join(f"share > {s}: {np.mean(lengths > s):.0%}" for s in seqs)
    )


def run(
    texts: list[str], model: str, seq: int, args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """Each backend's figures; torch runs at every ``--torch-batch-sizes`` and the speed-ups are
    over its fastest (ONNX caps its micro-batches by tokens, so batch size favours it otherwise)."""
    from animerec.embed import get_embedder

    rounds, threads = args.rounds, args.threads
    runs = {f"torch/b{b}": ("torch", b) for b in args.torch_batch_sizes}
    runs |= {b: (b, args.batch_size) for b in BACKENDS if b != "torch"}
    embedders = {
        b: get_embedder(model, max_seq_length=seq, backend=b, force_int8=args.force_int8)
        for b in BACKENDS
    }
    for emb in embedders.values():
        emb.progress = False
        if threads and hasattr(emb, "threads"):
            emb.threads = threads
    for emb in embedders.values():  # load, export and quantise outside the timings
        emb.encode(texts[: args.batch_size], args.batch_size)
    times: dict[str, list[float]] = {r: [] for r in runs}
    cpu: dict[str, list[float]] = {r: [] for r in runs}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for label, (backend, batch_size) in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            vectors[label] = embedders[backend].encode(texts, batch_size)
            times[label].append(time.perf_counter() - start)
            cpu[label].append(time.process_time() - start_cpu)
    torch_runs = [r for r in runs if r.startswith("torch")]
    ref = vectors[torch_runs[-1]]
    base = max(len(texts) / statistics.median(times[r]) for r in torch_runs)
    base_cpu = max(len(texts) / statistics.median(cpu[r]) for r in torch_runs)
    out = {}
    for label in runs:
        rate = len(texts) / statistics.median(times[label])
        rate_cpu = len(texts) / statistics.median(cpu[label])
        cos = (vectors[label] * ref).sum(axis=1)
        out[label] = {
            "texts_per_s": rate,
            "speedup": rate / base,
            "texts_per_cpu_s": rate_cpu,
            "speedup_cpu": rate_cpu / base_cpu,
            "mean_cos": float(cos.mean()),
            "min_cos": float(cos.min()),
            "top10_overlap": top_k_overlap(vectors[label], ref),
        }
    return out


def main() -> None:
    default_data = (
        os.environ.get("ANIMEREC_SAMPLE_DATA")
        or REPO.parent / "shared" / "data" / "mal-2020-sample"
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(default_data))
    parser.add_argument("--n", type=int, default=1000, help="descriptions to encode")
    parser.add_argument("--model", default="minilm", help="embedder name (minilm, mpnet, ...)")
    parser.add_argument(
        "--force-int8", action="store_true", help="quantise models int8 is known to break (mpnet)"
    )
    parser.add_argument("--seq", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--batch-size", type=int, default=32, help="ONNX: most texts per micro-batch"
    )
    parser.add_argument("--torch-batch-sizes", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for torch and onnxruntime (default: theirs)",
    )
    args = parser.parse_args()

    import onnxruntime
    import torch

    from animerec.embed.onnx import TOKEN_BUDGET

    if args.threads:
        torch.set_num_threads(args.threads)

    texts = descriptions(args.data, args.n, args.seed)
    print(
        f"{len(texts)} descriptions from {args.data}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"onnxruntime {onnxruntime.__version__} ({args.threads or 'default'} threads), "
        f"ONNX micro-batches <= {args.batch_size} texts and ~{TOKEN_BUDGET} tokens, "
        f"{args.rounds} rounds"
    )
    print(f"model {args.model}; " + token_stats(texts, args.model, args.seq))
    header = (
        f"{'seq':>4} {'backend':<10} {'texts/s':>8} {'vs torch':>8} {'texts/cpu-s':>11} "
        f"{'vs torch':>8} {'mean cos':>9} {'min cos':>8} {'top-10':>7}"
    )
    print(header)
    for seq in args.seq:
        for backend, r in run(texts, args.model, seq, args).items():
            print(
                f"{seq:>4} {backend:<10} {r['texts_per_s']:>8.1f} {r['speedup']:>7.2f}x "
                f"{r['texts_per_cpu_s']:>11.1f} {r['speedup_cpu']:>7.2f}x "
                f"{r['mean_cos']:>9.5f} {r['min_cos']:>8.4f} {r['top10_overlap']:>7.4f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
