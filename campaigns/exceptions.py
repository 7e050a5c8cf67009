"""Errors the campaigns services raise; views turn them into messages."""

from __future__ import annotations


class CampaignsError(Exception):
    pass


class SegmentDefinitionError(CampaignsError):
    """A segment definition that cannot be evaluated. ``errors`` holds one
    translated, human-readable message per problem found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


class FeedbackError(CampaignsError):
    """An answer to the feedback page that cannot be stored (a rating outside 1–5)."""
