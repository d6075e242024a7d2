"""The second-stage learned ranker (issue 13 item 2): member candidates re-scored by LightGBM."""

from animerec.recommend.ranker.model import RankerRecommender

__all__ = ["RankerRecommender"]
