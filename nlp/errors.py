"""Errors the nlp package raises, each with a message that says what to do."""
from __future__ import annotations


class NlpError(RuntimeError):
    """Base class for nlp failures."""


class ModelNotFoundError(NlpError):
    """A model directory is missing or incomplete."""


class ModelFormatError(NlpError):
    """A model directory exists but cannot be read (corrupt, wrong version)."""


class DataNotFoundError(NlpError):
    """Training or resource-building data is absent (e.g. ../shared/data not mounted)."""


class ResourceError(NlpError):
    """A dictionary, stopword list or gazetteer file is malformed."""
