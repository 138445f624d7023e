"""Routing: which agency owns an alert, by topic × region (configs/agencies.yaml)."""
from __future__ import annotations

import logging

from index.schema import Alert
from .config import Agency, AgenciesFile

logger = logging.getLogger(__name__)


class Router:
    """The first agency whose topics and region codes both match gets the alert; else default_agency.

    An agency without topics takes every topic, and one without region codes
    takes every region, so a topic-less, region-less agency listed early would
    catch everything: keep such catch-alls last (or only as default_agency).
    Region codes match by prefix: an agency for 3604 (九江市) owns 360402 (濂溪区).
    """

    def __init__(self, agencies: AgenciesFile):
        self.agencies = agencies.agencies
        self.default = next(a for a in agencies.agencies if a.id == agencies.default_agency)

    def agency_for(self, topic: str | None, region_code: str | None) -> Agency:
        for agency in self.agencies:
            if agency.route and self._topic_matches(agency, topic) and self._region_matches(agency, region_code):
                return agency
        return self.default

    def route(self, alert: Alert) -> Alert:
        """Set alert.agency and alert.agency_name; returns the same alert."""
        region_code = alert.region.code if alert.region else None
        agency = self.agency_for(alert.topic, region_code)
        alert.agency = agency.id
        alert.agency_name = agency.name
        logger.debug("alert %s (topic=%s, region=%s) routed to %s", alert.id, alert.topic, region_code, agency.id)
        return alert

    @staticmethod
    def _topic_matches(agency: Agency, topic: str | None) -> bool:
        return not agency.topics or (topic is not None and topic in agency.topics)

    @staticmethod
    def _region_matches(agency: Agency, region_code: str | None) -> bool:
        if not agency.region_codes:
            return True
        return region_code is not None and region_code.startswith(tuple(agency.region_codes))
