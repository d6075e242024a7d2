"""The API answers as it did before the one ranking pipeline (issue 12): requests recorded with
the pre-pipeline code (``cea2dd4``) on the tiny workspace, replayed here with the old defaults
asked for explicitly (adult titles allowed, no franchise step). Reasons lost their contribution
weights on purpose ("because you liked Cowboy Bebop (0.69)" → "... Cowboy Bebop"), and a list
whose scores all tie now gets the popularity fallback the CLI always had."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

RECORDED = json.loads((Path(__file__).with_name("recorded_api.json")).read_text())
WEIGHT = re.compile(r" \(-?\d+\.\d+\)$")


def _weak(items: list) -> bool:
    scores = {round(i[2], 9) for i in items}
    return len(items) > 1 and len(scores) == 1


@pytest.mark.parametrize("case", RECORDED, ids=lambda c: json.dumps(c["request"]))
def test_recorded_answers_are_unchanged(client, case):
    body = dict(case["request"], filters={"include_adult": True}, franchise=False)
    r = client.post("/recommend", json=body)
    assert r.status_code == 200, r.text
    got = [(i["anime_id"], i["rank"], round(i["score"], 5), i["reason"]) for i in r.json()["items"]]
    old = [(a, rank, score, WEIGHT.sub("", reason)) for a, rank, score, reason in case["items"]]
    if _weak(old):  # nothing to tell the titles apart: the fallback, as in the CLI
        assert [g[3] for g in got] == [g[3] for g in got if g[3].startswith("popular with fans")]
        assert {g[0] for g in got}.isdisjoint(case["request"]["liked"])
        return
    assert got == old
