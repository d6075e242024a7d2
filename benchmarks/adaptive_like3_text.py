"""DEV, for information only (the choice is validation's, docs/experiments.md "The fine-tuned text
side inside adaptive"): adaptive-ft with an L3AE member at 2-3 likes (the fine-tuned study's
in-sample pick there) against adaptive, paired, at 3 likes.

    HF_HUB_OFFLINE=1 nice -n 10 python benchmarks/adaptive_like3_text.py WS
"""

import json
import sys

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings
from animerec.data.split import parse_protocols
from animerec.evaluate.runner import evaluate
from animerec.recommend.adaptive import FINETUNED_MEMBER_PARAMS, AdaptiveFinetuned
from animerec.recommend.context import Context
from animerec.workspace import Workspace


def main() -> None:
    ws = Workspace.open(sys.argv[1])
    members = ("ease/like1", "l3ae/like3", "l3ae/like5", "l3ae/like10", "cease/holdout")
    mp = {m: dict(p) for m, p in FINETUNED_MEMBER_PARAMS.items() if m != "ease/like3"}
    mp["l3ae/like3"] = {
        "l2": 5000.0,
        "item_norm": 0.4,
        "side_weight": 200.0,
        "popularity_blend": 0.2,
        "popularity_discount": 0.0,
    }
    ft = AdaptiveFinetuned(AdaptiveFinetuned.Params(members=members, member_params=mp), Context(ws))
    ev = evaluate(
        ["adaptive", ft],
        Ratings.read(ws.ratings),
        Catalog.read(ws.anime),
        workspace=ws,
        protocols=parse_protocols(["likes3"], [3], 0),
        log=print,
    )
    res = ev.protocols["results"]["likes3"]
    print(
        json.dumps(
            {
                m: {"ndcg": r["ndcg"], "vs": {k: v["ndcg"] for k, v in r["vs"].items()}}
                for m, r in res.items()
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
