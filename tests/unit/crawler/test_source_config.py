"""Source options that are checked when sources.yaml loads."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from crawler.config import Source

BASE = {"name": "s", "type": "news", "start_urls": ["https://example.org/"]}


def test_id_pattern_needs_one_group_and_a_valid_expression():
    assert Source(**BASE, id_pattern=r"/(\d+)\.html$").id_pattern == r"/(\d+)\.html$"
    with pytest.raises(ValidationError, match="exactly one group"):
        Source(**BASE, id_pattern=r"/(\d+)/(\d+)")
    with pytest.raises(ValidationError, match="not a regular expression"):
        Source(**BASE, id_pattern=r"/(\d+")
