"""Built-in rule types, one small class each; warning.rules.RULE_TYPES names them."""
from .negative_share import NegativeShareRule
from .volume_spike import VolumeSpikeRule

__all__ = ["NegativeShareRule", "VolumeSpikeRule"]
