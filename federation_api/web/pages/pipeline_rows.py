"""The rows of the applications page (the open pipeline) as HTML, kept while the
projection stands (`kept_rows.RowsCache`).

Profiled under bench/staff_pages_bench.py (py-spy on `alliance serve`, 20 concurrent
staff), the page spent a third of its time reading the 40 open applications with their
reviewers and sittings and a sixth rendering them through the Jinja loop; every staff
member reads the same rows until an application moves, which is an entry projected. The
rows are one f-string each, every value from the data escaped with `html.escape`, the fixed
words (titles, codes) escaped once and kept.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence

import msgspec
from markupsafe import Markup

from domain.application import ApplicationState
from domain.levels import Designation, Level
from domain.progress import STAGE_OF_STATE
from federation_api.web.pages.templating import long_date
from projections.rows import ApplicationRow


class KeptPipeline(msgspec.Struct, frozen=True, kw_only=True):
    """The open applications' rows as HTML, and how many there are."""

    count: int
    html: Markup


@functools.cache
def _level_cell(level: Level, designation: Designation | None) -> str:
    """E.g. "Infant Mental Health Mentor (IMHM)-C", escaped (made once per pair)."""
    return html.escape(f"{level.title} ({level.value})"
                       + (f"-{designation.value}" if designation else ""))


@functools.cache
def _stage(state: ApplicationState) -> str:
    """The stage's title as staff read it, escaped once."""
    return html.escape(STAGE_OF_STATE[state].title)


def pipeline_rows_html(rows: Sequence[ApplicationRow]) -> KeptPipeline:
    """The table rows of the open applications, in the order given."""
    esc = html.escape
    out = []
    for a in rows:
        started = a.started_on.isoformat()
        out.append(f'<tr><td><a href="/staff/applications/{esc(a.application_id)}">'
                   f"{esc(a.given_name)} {esc(a.family_name)}</a></td>"
                   f"<td>{_level_cell(a.level, a.designation)}</td>"
                   f"<td>{_stage(a.state)}</td>"
                   f"<td>{len(a.unmet)}</td>"
                   f'<td><time datetime="{started}">{esc(long_date(a.started_on))}</time>'
                   f"</td></tr>\n")
    return KeptPipeline(count=len(rows), html=Markup("".join(out)))  # noqa: S704 (escaped)
