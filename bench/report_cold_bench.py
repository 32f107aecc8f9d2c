"""The board report computed cold, at 1,000 and 100,000 endorsements: kept counts against the
from-scratch aggregates, with a baseline query of the same run.

What it measures, per roster size:
- the data: a node initialised in a temporary directory, `size` endorsements imported into
  its ledger in bulk (real signed entries, 500 a transaction, as `bench.replication_alliance.
  seal_in_bulk` does) and projected by the node. Their valid-through days are spread over
  800 days from 60 days before today (every day of the renewal calendar, as anniversary
  cycles give), so about one in thirteen is expired (active, past its valid-through, within
  the 60 days' grace): the expired keys are what the kept report reads beyond its few
  hundred counts.
- each round: 5 new entries through the node's commands (two suspensions, a relinquishment,
  a correction of a valid-through, an import), projected; then the report of this
  association and of the Alliance computed by the node's `ReportCache`, whose kept report
  the new entries made stale: the cold path of the first board view after a change.
- beside it, in the same round: the same figures from scratch, by the GROUP BY over the
  roster and the window over the status history the report ran before the counts were kept
  (and checked equal to the kept figures), and a baseline query whose cost does not depend
  on the roster (one endorsement by its primary key, 20 times), for the machine's noise.
  Also timed: the county table that `/staff/reports` shows beside the report, as the page
  computes it (`CountyCache`, moved by the roster rows changed since its last count) and
  from scratch (`BoardReports.current_holders`, every current endorsement's holder), checked
  equal. The bench makes no person records, so every holder is under "no person record".

It prints the median of the rounds per size and the ratio of 100,000 to 1,000 for each:
flat shows as a ratio near the baseline's.

    python -m bench.report_cold_bench [--sizes 1000 100000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.replication_alliance import EPOCH
from bench.workload import FAMILY, GIVEN, LEVELS
from domain.endorsement import Endorsement
from domain.policy import AssociationPolicy
from federation_api.clock import now, today
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.people.county_report import CountyCache, by_county
from federation_api.settings import Settings
from projections.reports import BoardReports, CountRow, RenewalYear, ReportCache
from projections.standing import Standing
from projections.values import LEVELS as LEVEL_VALUES
from projections.values import member, optional_designation

NEW_ENTRIES = 5
SPREAD_DAYS = 800
GRACE_BEFORE = 60


def imported(association: str, i: int, day: dt.date) -> Endorsement:
    """The i-th imported endorsement, valid through a day of the spread."""
    level, designation = LEVELS[i % len(LEVELS)]
    return Endorsement.record_existing(
        endorsement_id=new_endorsement_id(association, f"cold:{i}"), association=association,
        person_id=f"{association}-P-cold{i:06d}", family_name=FAMILY[i % 10],
        given_name=GIVEN[(i // 10) % 10], level=level, designation=designation,
        granted_on=dt.date(2015 + i % 9, 1 + i % 12, 1 + i % 28),
        valid_through=day + dt.timedelta(days=(i * 37) % SPREAD_DAYS - GRACE_BEFORE),
        legacy_reference=f"paper-cold{i:06d}", now=EPOCH + dt.timedelta(days=1, milliseconds=i))


def seed(node: Node, count: int, day: dt.date, *, batch: int = 500) -> None:
    """`count` endorsements sealed `batch` per transaction, then projected."""
    sealed = 0
    for start in range(0, count, batch):
        aggregates = [imported(node.association, i, day)
                      for i in range(start, min(count, start + batch))]
        sealed += node.writer.seal_recorded(node.events.save(*aggregates))
    if sealed != count:
        raise SystemExit(f"sealed {sealed} entries, expected {count}")
    node.project()


# -- the figures from scratch, as the report computed them before the counts were kept ------

_RENEWED = ("SUM(CASE WHEN status = 'active' AND prev_status = 'active' AND valid_through > "
            "prev_through AND effective_on > prev_on THEN 1 ELSE 0 END)")
_LAPSED = ("SUM(CASE WHEN status = 'lapsed' AND (prev_status IS NULL OR prev_status <> "
           "'lapsed') THEN 1 ELSE 0 END)")


def from_scratch(reports: BoardReports, association: str | None,
                 on: dt.date) -> tuple[list[CountRow], list[RenewalYear]]:
    """The counts by a GROUP BY over the roster, the renewals by a window over the history."""
    where = " WHERE association = ?" if association else ""
    params = (association,) if association else ()
    rows = reports.db.query(
        "SELECT level, designation, CASE WHEN status = 'active' AND valid_through < ? "
        "THEN 'expired' WHEN status = 'active' THEN 'current' ELSE status END AS standing, "
        f"substr(granted_on, 1, 4) AS year, COUNT(*) FROM roster{where} "
        "GROUP BY level, designation, standing, year", (on.isoformat(), *params))
    counts = sorted((CountRow(level=member(LEVEL_VALUES, level),
                              designation=optional_designation(d), standing=Standing(s),
                              year=int(y), count=int(n)) for level, d, s, y, n in rows),
                    key=lambda r: (r.year, r.level.numeral, r.designation or "",
                                   r.standing.value))
    years = reports.db.query(
        f"SELECT year, {_RENEWED}, {_LAPSED} FROM (SELECT substr(effective_on, 1, 4) AS year, "
        "association, status, valid_through, effective_on, LAG(status) OVER w AS prev_status, "
        "LAG(valid_through) OVER w AS prev_through, LAG(effective_on) OVER w AS prev_on "
        "FROM status_history WINDOW w AS (PARTITION BY endorsement_id ORDER BY effective_on, "
        f"seq, association)) h{where} GROUP BY year", params)
    renewals = sorted((y for y in (RenewalYear(year=int(y), renewed=int(r or 0),
                                               lapsed=int(n or 0)) for y, r, n in years)
                       if y.decided), key=lambda y: y.year)
    return counts, renewals


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    """Milliseconds of one call, and its result."""
    started = time.perf_counter()
    result = work()
    return (time.perf_counter() - started) * 1000, result


def new_entries(node: Node, ids: list[str], round_no: int, size: int) -> None:
    """Five entries through the node's commands (each commit projects them), on four
    endorsements not picked before (`ids` loses them)."""
    day, at = today(), now()
    pick = [ids.pop((round_no * 7919 + k * 104729) % len(ids)) for k in range(4)]
    node.service.suspend(pick[0], effective_on=day, reason="bench", now=at)
    node.service.suspend(pick[1], effective_on=day, reason="bench", now=at)
    node.service.relinquish(pick[2], effective_on=day, reason="bench", now=at)
    corrected = node.service.endorsement(pick[3])
    node.service.correct(pick[3], corrects_version=corrected.version, reason="bench",
                         family_name=None, given_name=None,
                         valid_through=corrected.valid_through + dt.timedelta(days=365),
                         now=at)
    i = size + round_no
    level, designation = LEVELS[i % len(LEVELS)]
    node.service.record_existing(
        endorsement_id=new_endorsement_id(node.association, f"cold:{i}"),
        person_id=f"{node.association}-P-new{i:06d}", family_name="Rivera", given_name="Ana",
        level=level, designation=designation, granted_on=dt.date(2024, 3, 1),
        valid_through=day + dt.timedelta(days=200), legacy_reference=f"paper-new{i}", now=at)
    node.project()


def measure(root: Path, size: int, rounds: int) -> dict[str, Any]:
    """Seed a node of `size`, then time the rounds; the medians and each round's figures."""
    settings = Settings(data_dir=root / f"ak-{size}")
    init_node(settings, association="AK", name="Alaska (bench)", policy=AssociationPolicy(),
              now=now())
    node = Node(settings)
    try:
        started = time.perf_counter()
        seed(node, size, today())
        build_seconds = time.perf_counter() - started
        db = node.projector.db
        ids = [str(r[0]) for r in db.query("SELECT endorsement_id FROM roster ORDER BY "
                                           "endorsement_id")]
        cache, reports, counties = ReportCache(db), BoardReports(db), CountyCache()
        cache.report("AK", today())
        cache.report(None, today())
        counties.counts("AK", today(), position=dict(cache.positions()).get("AK", 0),
                        generation=node.people.generation(),
                        holders=lambda: reports.current_holders("AK", today()),
                        changed=lambda after: reports.changed_holders("AK", after, today()),
                        counties=node.people.counties)
        samples: dict[str, list[float]] = {}

        def add(name: str, ms: float) -> None:
            samples.setdefault(name, []).append(ms)

        for round_no in range(rounds):
            new_entries(node, ids, round_no, size)
            on = today()
            for scope, association in (("association", "AK"), ("alliance", None)):
                ms, kept = timed(lambda a=association, d=on: cache.report(a, d))
                add(f"kept report, {scope}", ms)
                ms, scratch = timed(lambda a=association, d=on: from_scratch(reports, a, d))
                add(f"from scratch, {scope}", ms)
                if (kept.counts, kept.renewals) != scratch:
                    raise SystemExit(f"the kept figures differ from the GROUP BY ({scope})")
            # The county table as the page computes it (kept, moved by the changed rows),
            # and its input from scratch (every current endorsement's holder).
            position = dict(cache.positions()).get("AK", 0)
            ms, kept_counties = timed(lambda d=on, p=position: counties.counts(
                "AK", d, position=p, generation=node.people.generation(),
                holders=lambda: reports.current_holders("AK", d),
                changed=lambda after: reports.changed_holders("AK", after, d),
                counties=node.people.counties))
            add("county table, kept", ms)
            ms, holders = timed(lambda d=on: reports.current_holders("AK", d))
            add("county table, from scratch", ms)
            if kept_counties != by_county(holders.values(), node.people.counties()):
                raise SystemExit("the kept county counts differ from the counts from scratch")
            ms, _ = timed(lambda: [node.projector.endorsement(ids[k * 37 % len(ids)])
                                   for k in range(20)])
            add("baseline: 20 lookups by key", ms)
        expired = db.query("SELECT COUNT(*) FROM report_active_through WHERE valid_through < ?",
                           (today().isoformat(),))[0][0]
        keys = db.query("SELECT COUNT(*) FROM report_counts")[0][0]
    finally:
        node.close()
    return {"build_seconds": build_seconds, "count_keys": int(keys),
            "expired_keys": int(expired),
            "median_ms": {k: statistics.median(v) for k, v in samples.items()},
            "samples_ms": samples}


def print_table(result: dict[str, Any]) -> None:
    """Median per measurement and size, and the ratio of the largest size to the smallest."""
    sizes = sorted(result["sizes"], key=int)
    first, last = result["sizes"][sizes[0]], result["sizes"][sizes[-1]]
    header = "".join(f"{int(s):>12,}" for s in sizes)
    print(f"{'median ms (of the rounds)':34}{header}{'ratio':>8}")
    for name in first["median_ms"]:
        cells = "".join(f"{result['sizes'][s]['median_ms'][name]:>12.2f}" for s in sizes)
        ratio = last["median_ms"][name] / first["median_ms"][name]
        print(f"{name:34}{cells}{ratio:>8.1f}")
    for s in sizes:
        m = result["sizes"][s]
        print(f"{int(s):,}: built and projected in {m['build_seconds']:.1f} s; "
              f"{m['count_keys']} count keys, {m['expired_keys']} expired keys")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"settings": {"sizes": args.sizes, "rounds": args.rounds},
                              "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="report-cold-bench-") as tmp:
        for size in args.sizes:
            print(f"preparing {size:,} endorsements ...", file=sys.stderr, flush=True)
            result["sizes"][str(size)] = measure(Path(tmp), size, args.rounds)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
