"""One person, one standing (DESIGN invariant 9): whether a person may be given a new endorsement.

A person holds at most one endorsement that is active (current, or expired within its grace
period) or suspended, Alliance-wide, and nobody escapes a committee action by reapplying,
being imported again or moving: a grant, an import or a recognition is refused while any
association records the person's endorsement as suspended, and after a revocation only as
the granting association's policy allows. The answer is computed from what the lookup port
says the Alliance's ledgers record, so it reaches every replicated association.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum

from domain.errors import InvalidTransition
from domain.levels import EndorsementStatus, Level
from domain.lookup import RecordedEndorsement
from domain.policy import AssociationPolicy, RevocationReapply
from domain.requirement_areas import add_years, level_label


class NewEndorsement(StrEnum):
    """How a new endorsement would come about."""

    GRANT = "grant"  # from an approved application
    IMPORT = "import"  # from the association's records before the ledger
    RECOGNITION = "recognition"  # by reciprocity, from another association


def replaced_by_new_endorsement(
    *,
    association: str,
    level: Level,
    recorded: Sequence[RecordedEndorsement],
    policy: AssociationPolicy,
    on: dt.date,
    how: NewEndorsement,
    by_committee: bool = False,
) -> tuple[RecordedEndorsement, ...]:
    """The endorsements a new one at `level` would replace, or InvalidTransition naming the
    endorsement and the rule that forbids it.

    `recorded` is every endorsement of the person (any association, any status, as recorded
    on `on`), without the one a recognition takes over. An active endorsement with this
    association at a lower level is replaced (an upgrade: the association's process turns a
    Level II holder granted Level III into a Level III holder, not a holder of both); an
    active one at the same or a higher level, or with another association, is refused.
    """
    ordered = sorted(recorded, key=lambda r: (r.association, r.endorsement_id))
    for r in ordered:
        if r.status is EndorsementStatus.SUSPENDED:
            raise InvalidTransition(
                f"{_named(r)} is suspended (since {r.since}) by the Endorsement Committee of "
                f"{r.association}; no new endorsement can be given to its holder until that "
                "committee lifts the suspension", field="person_id", rule="standing.suspended")
    for r in ordered:
        if r.status is EndorsementStatus.REVOKED:
            _revoked(r, policy, on, how, by_committee)
    replaced = []
    for r in ordered:
        if r.status is not EndorsementStatus.ACTIVE:
            continue  # lapsed, relinquished, transferred: no standing left to protect
        if how is NewEndorsement.RECOGNITION:
            raise InvalidTransition(f"the professional already holds {r.endorsement_id} at "
                                    f"{r.association}", field="origin_endorsement_id",
                                    rule="reciprocity.one_home")
        if r.association != association:
            raise InvalidTransition(
                f"the person holds {_named(r)}, active; a person holds one endorsement in the "
                "Alliance: recognise it by reciprocity (then a higher level granted here "
                "replaces it)", field="person_id", rule="standing.held_elsewhere")
        if r.level.numeral >= level.numeral:
            raise InvalidTransition(
                f"the person already holds {_named(r)}, active; a new endorsement here must be "
                f"of a higher level than {level_label(r.level, r.designation)}",
                field="person_id", rule="standing.held")
        replaced.append(r)  # (a Level IV designation is one level: IV-P to IV-C is refused)
    return tuple(replaced)


def _revoked(r: RecordedEndorsement, policy: AssociationPolicy, on: dt.date,
             how: NewEndorsement, by_committee: bool) -> None:
    revoked = (f"{_named(r)} was revoked (effective {r.since}) by the Endorsement Committee "
               f"of {r.association}")
    rule = policy.reapply_after_revocation
    if rule is RevocationReapply.NEVER:
        reason = "this association's policy endorses nobody again after a revocation"
    elif rule is RevocationReapply.AFTER_YEARS:
        again = add_years(r.since, policy.reapply_after_years)
        if on >= again:
            return
        reason = (f"this association's policy endorses its holder again only from {again} "
                  f"({policy.reapply_after_years} years after the revocation)")
    elif how is NewEndorsement.GRANT and by_committee:
        return
    else:
        reason = ("this association's policy leaves a new endorsement after a revocation to its "
                  "Endorsement Committee, which grants it from a new application")
    raise InvalidTransition(f"{revoked}; {reason}", field="person_id", rule="standing.revoked")


def _named(r: RecordedEndorsement) -> str:
    return f"{r.endorsement_id} ({level_label(r.level, r.designation)}, {r.association})"
