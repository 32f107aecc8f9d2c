"""The demo's person records on Alaska's node: the seeded professionals and applicants with
contact details, one without an email address (the return page says it cannot mail them), and
one possible duplicate (the same names and date of birth under a second id)."""

from __future__ import annotations

import datetime as dt

from federation_api.clock import now, today
from federation_api.node.root import Node
from federation_api.people.records import parse_person

# person id, given, family, date of birth, email, county
_PEOPLE = (
    ("AK-P-0001", "Maria", "Rivera", "1975-04-30", "maria.rivera@example.org", "Anchorage"),
    ("AK-P-0002", "Sam", "Okafor", "1969-11-02", "sam.okafor@example.org", "Juneau"),
    ("AK-P-0003", "Lee", "Chen", "1984-01-17", "lee.chen@example.org", "Fairbanks North Star"),
    ("AK-P-0004", "Pat", "Morgan", "1990-08-08", "", "Kenai Peninsula"),
    ("AK-P-0005", "Jane", "Doe", "1992-03-12", "jane.doe@example.org", "Anchorage"),
    ("AK-P-0006", "Alex", "Kim", "1988-06-21", "alex.kim@example.org", "Matanuska-Susitna"),
    ("AK-P-0007", "Jane", "Doe", "1992-03-12", "", "Anchorage"),  # the same Jane, twice
)


def seed_people(node: Node) -> None:
    """Add the demo's person records (those not there yet), recorded as made by the demo."""
    on = today()
    with node.people.db.transaction() as cur:
        for number, (pid, given, family, born, email, county) in enumerate(_PEOPLE, 1):
            if node.people.get(pid, cur=cur) is not None:
                continue
            details = parse_person({
                "person_id": pid, "given_name": given, "family_name": family,
                "birth_date": born, "email": email, "phone": f"+1 907 555 01{number:02d}",
                "street": f"{number} Main Street", "city": county.split()[0],
                "county": f"{county} Borough", "postal_code": "99501",
                "membership_number": f"AK-M-{number:04d}",
                "membership_expires": dt.date(on.year, 12, 31).isoformat()}, today=on)
            node.people.create(cur, details, by="demo", now=now())
