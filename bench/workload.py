"""What the benches' generated professionals are made of: levels, designations and names.

One list for every bench, so that their workloads stay comparable (the same mix of levels,
the same name lengths) and a change to the mix is made once.
"""

from __future__ import annotations

from domain.levels import Designation, Level

LEVELS: tuple[tuple[Level, Designation | None], ...] = (
    (Level.IFA, None), (Level.IFS, None), (Level.IMHS, None),
    (Level.IMHM, Designation.CLINICAL), (Level.IMHM, Designation.POLICY),
    (Level.IMHM, Designation.RESEARCH_FACULTY))
FAMILY = ("Rivera", "Okafor", "Chen", "Morgan", "Doe", "Kim", "Nguyen", "Haddad", "Kowalski",
          "Begay")
GIVEN = ("Maria", "Sam", "Lee", "Pat", "Jane", "Alex", "Linh", "Omar", "Ewa", "Tom")
