"""The tokenizer of an embedder name, a model folder or a plain tokenizer folder."""

from __future__ import annotations

import pytest

from animerec.embed.tokenizer import load_tokenizer
from animerec.errors import AnimerecError


@pytest.fixture(scope="module")
def minilm_tokenizer():
    return load_tokenizer("minilm")


def test_minilm_by_name_counts_special_tokens(minilm_tokenizer):
    assert minilm_tokenizer("hello world")["input_ids"][0] == minilm_tokenizer.cls_token_id


def test_load_tokenizer_from_a_plain_tokenizer_folder(minilm_tokenizer, tmp_path):
    minilm_tokenizer.save_pretrained(
        tmp_path
    )  # tokenizer files only: no sentence-transformers model
    again = load_tokenizer(str(tmp_path))
    assert again("Cowboy Bebop")["input_ids"] == minilm_tokenizer("Cowboy Bebop")["input_ids"]
    with pytest.raises(AnimerecError, match="unknown embedder"):
        load_tokenizer(str(tmp_path / "missing"))
