"""An unmet requirement: what a coordinator needs to know to act on an application."""

from __future__ import annotations

import msgspec


class Unmet(msgspec.Struct, frozen=True, kw_only=True, order=True):
    """One requirement not met, with the rule that says so and a reason a coordinator can act on.

    `code` is stable (e.g. "rsc.hours") so software can match it; `field` names the part of the
    evidence concerned; `reason` is plain words without personal data, because the code and the
    reason are replicated on the ledger.
    """

    code: str
    field: str
    reason: str
