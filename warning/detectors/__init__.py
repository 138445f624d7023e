"""Built-in rule types. Importing this package registers them in warning.rules.RULE_TYPES."""
from .negative_share import NegativeShareRule
from .volume_spike import VolumeSpikeRule

__all__ = ["NegativeShareRule", "VolumeSpikeRule"]
