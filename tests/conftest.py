"""Shared fixtures. Tests that need the real sample fail loudly when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ENV = "ANIMEREC_SAMPLE_DATA"


def sample_dir() -> Path:
    """The shared MAL sample (``$ANIMEREC_SAMPLE_DATA``, else ``../shared/data/mal-2020-sample``)."""
    d = Path(os.environ.get(SAMPLE_ENV) or REPO.parent / "shared" / "data" / "mal-2020-sample")
    if not (d / "anime.csv").exists():
        pytest.fail(
            f"the shared MAL sample is missing at {d}: set ${SAMPLE_ENV} to the folder holding "
            "anime.csv, anime_with_synopsis.csv and rating_complete.csv",
            pytrace=False,
        )
    return d


@pytest.fixture(scope="session")
def sample_data() -> Path:
    return sample_dir()


@pytest.fixture(scope="session")
def sample_workspace(sample_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """A workspace with the real sample ingested (once per test session)."""
    from animerec.data.ingest import ingest
    from animerec.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("sample-ws"))
    ingest(sample_data, ws)
    return ws


@pytest.fixture(scope="session")
def sample_catalog(sample_workspace):
    from animerec.data.catalog import Catalog

    return Catalog.read(sample_workspace.anime)


@pytest.fixture(scope="session")
def sample_ratings(sample_workspace):
    from animerec.data.ratings import Ratings

    return Ratings.read(sample_workspace.ratings)


# --- a tiny sentence-transformers model, built in code -------------------------------------------
TINY_WORDS = (
    "anime school magic robot space love war ninja pirate idol music sports comedy drama mystery "
    "horror dragon sword hero demon girl boy friend city village ship battle dream game power"
)


def tiny_corpus(n: int = 300) -> list[str]:
    """A few hundred short anime-flavoured strings (deterministic) to train the tiny vocabulary."""
    w = TINY_WORDS.split()
    return [
        f"The {w[i % len(w)]} {w[(i * 7 + 3) % len(w)]} story {i}: a {w[(i * 3 + 1) % len(w)]} "
        f"meets a {w[(i * 11 + 5) % len(w)]}."
        for i in range(n)
    ]


def build_tiny_model(out: Path, seed: int = 0, max_seq_length: int = 64) -> Path:
    """A 2-layer, 32-wide BERT with a WordPiece vocabulary trained on :func:`tiny_corpus` and
    mean pooling, saved as a sentence-transformers directory at ``out`` (about a second).

    It runs the real tokenise/encode/train code paths of a sentence-transformers model, fast.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import BertConfig, BertModel, BertTokenizerFast

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        tiny_corpus(), trainers.WordPieceTrainer(vocab_size=400, special_tokens=special)
    )
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece()
    tokenizer = BertTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_seq_length,
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    hf_dir = out.parent / f".{out.name}-hf"
    BertModel(config).save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    transformer = Transformer(str(hf_dir), max_seq_length=max_seq_length)
    pooling = Pooling(transformer.get_embedding_dimension(), "mean")
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(out))
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sentence-transformers model directory (see :func:`build_tiny_model`); read-only."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "tiny-bert")
