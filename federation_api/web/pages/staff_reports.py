"""The board reports page: counts, renewal and lapse rates, pipeline times, with CSV files
and server-drawn SVG charts, for this association or Alliance-wide.

Who: coordinators, committee members and auditors (the roster's roles): the figures are
aggregates, but their "by year" cells can be small enough to point at a person, so they
are not for a reviewer, whose work is one application at a time. The figures come from
`projections.reports` (SQL aggregates over the projections); see docs/reports.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from domain.levels import Designation, Level
from federation_api.accounts.roles import AccountRole
from federation_api.clock import today
from federation_api.people.county_report import CountyCache, CountyCount
from federation_api.web.csv_files import write_csv
from federation_api.web.pages.kept_rows import RowsCache, app_rows_cache
from federation_api.web.pages.staff_session import StaffGate, StaffUser, page_context
from federation_api.web.pages.templating import SECURITY_HEADERS, render
from federation_api.web.svg_charts import Bar, bar_chart
from projections.reports import CountRow, PipelineTime, RenewalYear, ReportCache
from projections.standing import Standing

REPORT_ROLES = (AccountRole.COORDINATOR, AccountRole.COMMITTEE, AccountRole.AUDITOR)
ReportReader = Annotated[StaffUser, Depends(StaffGate(*REPORT_ROLES))]
SCOPES = ("association", "alliance")
TABLES = ("counts", "renewals", "pipeline", "counties")

router = APIRouter(prefix="/staff/reports", include_in_schema=False)


def level_code(level: Level, designation: Designation | None) -> str:
    """E.g. "IMHM-C": the code the Alliance prints after a name."""
    return f"{level.value}-{designation.value}" if designation else level.value


def percent(rate: float) -> str:
    """A rate as a whole percentage, e.g. "87%"."""
    return f"{round(rate * 100)}%"


@dataclass(frozen=True)
class Report:
    """The three tables of one scope on one day."""

    scope: str
    on: dt.date
    counts: list[CountRow]
    renewals: list[RenewalYear]
    pipeline: list[PipelineTime]


def _cache(request: Request) -> ReportCache:
    cache = getattr(request.app.state, "report_cache", None)
    if cache is None:  # one per app: made on first use (a plain attribute set is atomic)
        cache = request.app.state.report_cache = ReportCache(
            request.app.state.node.projector.db)
    return cache


def _counties(request: Request, on: dt.date) -> list[CountyCount]:
    """This association's current endorsements by the county of the holder's person
    record: private data of this node, so never for the Alliance-wide scope."""
    node = request.app.state.node
    reports = _cache(request)
    kept = getattr(request.app.state, "county_cache", None)
    if kept is None:
        kept = request.app.state.county_cache = CountyCache()
    # Read the inputs' versions before the data, so a change in between is seen next time.
    position = dict(reports.positions()).get(node.association, 0)
    board = reports.reports
    return kept.counts(
        node.association, on, position=position, generation=node.people.generation(),
        holders=lambda: board.current_holders(node.association, on),
        changed=lambda after: board.changed_holders(node.association, after, on),
        counties=node.people.counties)


def _report(request: Request, scope: str, on: dt.date) -> Report:
    node = request.app.state.node
    cache = _cache(request)
    made = cache.report(node.association if scope == "association" else None, on)
    return Report(scope=scope, on=on, counts=made.counts, renewals=made.renewals,
                  pipeline=made.pipeline)


def _scope(request: Request) -> str | None:
    scope = request.query_params.get("scope", "association")
    return scope if scope in SCOPES else None


def _bad_scope(request: Request) -> Response:
    return render("message.html", 422, **page_context(
        request, title="Check the report's scope",
        message="Choose this association or the whole Alliance."))


def charts(report: Report) -> dict[str, Markup]:
    """The page's charts, each drawn from a table the page shows beside it."""
    current: dict[str, int] = {}
    standing: dict[Standing, int] = {}
    for row in report.counts:
        standing[row.standing] = standing.get(row.standing, 0) + row.count
        if row.standing is Standing.CURRENT:
            code = level_code(row.level, row.designation)
            current[code] = current.get(code, 0) + row.count
    return {
        "levels": bar_chart(
            "chart-levels", "Endorsements in good standing by level",
            "Current endorsements per level and designation; the numbers are in the table "
            "of counts below.", [Bar(code, n, str(n)) for code, n in current.items()]),
        "standings": bar_chart(
            "chart-standings", "Endorsements by standing",
            "All endorsements by their standing today; the numbers are in the table of "
            "counts below.", [Bar(s.value, n, str(n)) for s, n in sorted(standing.items())]),
        "renewals": bar_chart(
            "chart-renewals", "Renewal rate per year",
            "The share of cycles ending each year that were renewed rather than lapsed; "
            "the numbers are in the table of renewals and lapses.",
            [Bar(str(y.year), y.renewal_rate, f"{percent(y.renewal_rate)} of {y.decided}")
             for y in report.renewals], scale_to=1.0),
        "pipeline": bar_chart(
            "chart-pipeline", "Median days from application to grant by level",
            "The median number of days from an application's start to its grant, per "
            "level; the 90th percentile is in the table of pipeline times.",
            [Bar(p.level.value, p.median_days, f"{p.median_days} d (p90 {p.p90_days} d)")
             for p in report.pipeline]),
    }


def _charts(request: Request, positions: dict[str, int], report: Report
            ) -> dict[str, Markup]:
    """The report's charts, kept with the projection's tracking positions read before the
    report (`kept_rows`): the figures change only when an entry is projected, and drawing
    the four charts was a third of the page's own cost under 20 concurrent staff
    (docs/reports.md)."""
    kept: RowsCache[dict[str, Markup]] = app_rows_cache(request.app.state, "report_charts")
    return kept.rows(positions, (report.scope, report.on), lambda: charts(report))


@router.get("", response_class=HTMLResponse)
def reports_page(request: Request, staff: ReportReader) -> Response:
    """The board reports for this association (default) or the whole Alliance."""
    scope = _scope(request)
    if scope is None:
        return _bad_scope(request)
    positions = dict(_cache(request).positions())  # before the figures the charts draw
    report = _report(request, scope, today())
    node = request.app.state.node
    counties = _counties(request, report.on) if scope == "association" else []
    return render("staff_reports.html", **page_context(
        request, report=report, charts=_charts(request, positions, report), level_code=level_code,
        percent=percent, association=node.association, scopes=SCOPES, counties=counties,
        county_chart=county_chart(counties)))


def county_chart(counties: list[CountyCount]) -> Markup:
    """The counts by county as a chart, drawn from the table beside it."""
    return bar_chart("chart-counties", "Endorsements in good standing by county",
                     "Current endorsements of this association by the county of the "
                     "holder's person record; the numbers are in the table beside it.",
                     [Bar(c.county, c.count, str(c.count)) for c in counties])


def table(report: Report, name: str) -> tuple[Sequence[str], list[tuple[object, ...]]]:
    """One of the report's tables as a CSV header and rows."""
    if name == "counts":
        return (("year_granted", "level", "designation", "standing", "count"),
                [(r.year, r.level, r.designation, r.standing, r.count) for r in report.counts])
    if name == "renewals":
        return (("year", "renewed", "lapsed", "renewal_rate", "lapse_rate"),
                [(y.year, y.renewed, y.lapsed, f"{y.renewal_rate:.4f}", f"{y.lapse_rate:.4f}")
                 for y in report.renewals])
    return (("level", "granted", "median_days", "p90_days", "longest_days"),
            [(p.level, p.granted, p.median_days, p.p90_days, p.longest_days)
             for p in report.pipeline])


@router.get("/{name}.csv")
def report_download(request: Request, staff: ReportReader, name: str) -> Response:
    """One table of the report as CSV (the same scope parameter as the page)."""
    scope = _scope(request)
    if name not in TABLES:
        return render("message.html", 404, **page_context(
            request, title="No such report", message="The reports are counts, renewals, "
                                                     "pipeline and counties."))
    if scope is None:
        return _bad_scope(request)
    on = today()
    if name == "counties":
        if scope != "association":
            return render("message.html", 422, **page_context(
                request, title="Counties are this association's only",
                message="The county comes from this node's private person records; no node "
                        "has another association's, so there is no Alliance-wide table."))
        header: Sequence[str] = ("county", "current_endorsements")
        rows: list[tuple[object, ...]] = [(c.county, c.count) for c in _counties(request, on)]
    else:
        header, rows = table(_report(request, scope, on), name)
    node = request.app.state.node
    who = node.association if scope == "association" else "alliance"
    return Response(write_csv(header, rows), media_type="text/csv", headers={
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="{name}-{who}-{on.isoformat()}.csv"'})
