"""The hybrid: collaborative and content scores fused with weights learned on validation users.

Each member (by default EASE and the content model; any registered recommender, ALS included,
and ``model/label`` variants such as a second EASE) scores the whole catalog. A member's scores
may first be divided by each anime's number of training raters to the power α (popularity
debiasing), then each user's scores are standardised per member — z-scores whose mean and spread
come from the user's 100 best unseen anime, so a member's scale does not decide its say and what
counts is how it separates its top candidates. Two item priors from the training ratings may
join: ``quality`` (the smoothed share of an anime's raters who rated it 9+) and ``popularity``
(log raters). The fused score is a weighted sum.

α and the weights are *learned*, never hand-set: the members are fitted on the training users
minus a validation set carved out of them (:func:`~animerec.data.split.validation_split`,
training users only), and for each candidate α coordinate ascent over a grid maximises the
validation users' NDCG@10. Among the weightings within ``coverage_tolerance`` of the best NDCG
the one recommending the most distinct anime is kept (a tie-break toward catalog coverage).
Then the members are refitted on all training users; α and the weights are saved with the model.

A recommendation's reason comes from the feature that added most to its score: the member's own
reason ("because you liked Monster") or the prior's ("fans who watched it rate it highly").
"""

from animerec.recommend.hybrid.fusion import PRIORS, ItemPriors, seen_mask, standardise
from animerec.recommend.hybrid.learned import FUSION_CACHE, Fusion, learn_fusion
from animerec.recommend.hybrid.model import DEFAULT_MEMBERS, HybridRecommender, model_of
from animerec.recommend.hybrid.weights import learn_weights, ndcg_at_k, pick, ranking_quality

__all__ = [
    "DEFAULT_MEMBERS",
    "FUSION_CACHE",
    "PRIORS",
    "Fusion",
    "HybridRecommender",
    "ItemPriors",
    "learn_fusion",
    "learn_weights",
    "model_of",
    "ndcg_at_k",
    "pick",
    "ranking_quality",
    "seen_mask",
    "standardise",
]
