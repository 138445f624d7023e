"""Built-in rule types, one small class each; warning.rules.RULE_TYPES names them."""
from .cross_platform import CrossPlatformRule
from .event_burst import EventBurstRule
from .negative_share import NegativeShareRule
from .source_silent import SourceSilentRule
from .volume_spike import VolumeSpikeRule

__all__ = ["CrossPlatformRule", "EventBurstRule", "NegativeShareRule", "SourceSilentRule", "VolumeSpikeRule"]
