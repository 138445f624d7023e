"""Replay: measuring detection — real repost cascades among background posts, in simulated time,
through the real enrichment, store and rules (see harness.py; README "Replay: measuring detection")."""
from .cascades import Cascade, ReplayInputError, Repost, read_cascades, select, split_of
from .harness import ReplayOptions, ReplayResult, run_replay
from .metrics import EventOutcome, Notification, attribute, outcomes, summarize
from .timeline import DiurnalProfile, PlacedCascade, ground_truth, place_cascades

__all__ = ["Cascade", "DiurnalProfile", "EventOutcome", "Notification", "PlacedCascade", "ReplayInputError",
           "ReplayOptions", "ReplayResult", "Repost", "attribute", "ground_truth", "outcomes", "place_cascades",
           "read_cascades", "run_replay", "select", "split_of", "summarize"]
