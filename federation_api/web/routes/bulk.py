"""Bulk verification: a CSV of up to 5,000 endorsement ids and last names, one CSV answer.

Who may call it: an employer token, or a staff token of this node. One request answers
thousands of (id, last name) pairs, which makes it the best tool a scraper could wish for
(e.g. a leaked list of ids tried against common surnames); a token names who asked, can be
revoked by the association that issued it, and carries its own row budget. A person checking
one credential uses `GET /v1/verify`, which needs no token.

The file is checked whole before anything is looked up: more than 5,000 rows, a missing
header or a malformed row is a 4xx that names the row, and nothing partial is returned. Each
answer row is the public answer of `GET /v1/verify` for the same pair (the same folded-name
match, the same fields), and a non-match is one "not found" row whatever was wrong.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from federation_api.accounts.tokens import Principal, Role
from federation_api.clock import today
from federation_api.errors import EdgeError
from federation_api.node.root import Node
from federation_api.web.auth import STAFF, GatedRoute, require
from federation_api.web.csv_files import write_csv
from federation_api.web.errors import error_body
from federation_api.web.lookup import lookup
from federation_api.web.rate_limits import row_budget_refusal
from federation_api.web.schemas import VerifyOut, errors

router = APIRouter(route_class=GatedRoute)

MAX_ROWS = 5_000
# 5,000 rows of a 40-character id and a 100-character name, with quotes and line ends.
MAX_BYTES = 1_000_000
HEADER = ("endorsement_id", "last_name")
ANSWER_COLUMNS = ("row", "endorsement_id", "last_name", "found", "name", "level",
                  "level_title", "designation", "association", "status", "valid_through",
                  "as_of", "warnings")
_ID = re.compile(r"^[A-Za-z0-9-]{3,40}$")
_CSV = "text/csv"


class BulkInputError(EdgeError):
    """A bad file: status, the row (or part) it concerns, and the rule it broke."""

    def __init__(self, status: int, message: str, *, row: str, rule: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.row = row
        self.rule = rule

    def response(self) -> JSONResponse:
        """The JSON error (the shape of every error of the API; `field` names the row)."""
        code = {413: "too_large", 415: "unsupported_media_type"}.get(self.status,
                                                                     "invalid_request")
        return JSONResponse(error_body(code, self.message, field=self.row, rule=self.rule),
                            status_code=self.status)


def parse_rows(text: str) -> list[tuple[str, str]]:
    """(endorsement id, last name) of every data row, in order; raises on the first problem.

    Row numbers count data rows from 1 (the header is line 1); blank lines are not rows.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = next((r for r in reader if any(c.strip() for c in r)), None)
        if header is None:
            raise BulkInputError(422, "the file is empty; the first line must be the header "
                                 "endorsement_id,last_name", row="header", rule="bulk.header")
        if tuple(c.strip().lower() for c in header) != HEADER:
            raise BulkInputError(422, "the first line must be the header "
                                 "endorsement_id,last_name", row="header", rule="bulk.header")
        rows: list[tuple[str, str]] = []
        for record in reader:
            if not any(c.strip() for c in record):
                continue
            number = len(rows) + 1
            if number > MAX_ROWS:
                raise BulkInputError(413, f"row {number}: a file may hold at most {MAX_ROWS:,} "
                                     "rows; split it", row=f"row {number}", rule="bulk.max_rows")
            rows.append(_row(number, record))
    except csv.Error as e:
        raise BulkInputError(422, f"line {reader.line_num}: not valid CSV ({e})",
                             row=f"line {reader.line_num}", rule="bulk.csv") from e
    if not rows:
        raise BulkInputError(422, "the file has a header but no rows", row="row 1",
                             rule="bulk.no_rows")
    return rows


def _row(number: int, record: Sequence[str]) -> tuple[str, str]:
    if len(record) != 2:
        raise BulkInputError(422, f"row {number}: expected 2 fields (endorsement_id,last_name), "
                             f"found {len(record)}", row=f"row {number}", rule="bulk.fields")
    endorsement_id, last_name = record[0].strip(), record[1].strip()
    if not _ID.match(endorsement_id):
        raise BulkInputError(422, f"row {number}: endorsement_id must be 3-40 letters, digits "
                             "or hyphens", row=f"row {number}.endorsement_id",
                             rule="bulk.endorsement_id")
    if not 1 <= len(last_name) <= 100:
        raise BulkInputError(422, f"row {number}: last_name must be 1-100 characters",
                             row=f"row {number}.last_name", rule="bulk.last_name")
    return endorsement_id, last_name


def answer_rows(node: Node, rows: Sequence[tuple[str, str]], on: dt.date) -> str:
    """The CSV answer: one line per input row, in order. One projection read per distinct
    pair; the fork flags are read once for the whole file."""
    forked = node.forked_associations()
    answers: dict[tuple[str, str], VerifyOut | None] = {}

    def lines() -> Iterator[tuple[object, ...]]:
        for number, (endorsement_id, last_name) in enumerate(rows, start=1):
            key = (endorsement_id.upper(), last_name)
            if key not in answers:
                answers[key] = lookup(node, endorsement_id, last_name, on, forked)
            found = answers[key]
            echo = (number, endorsement_id, last_name)
            if found is None:
                yield (*echo, "no", "", "", "", "", "", "not found", "", on, "")
            else:
                yield (*echo, "yes", found.name, found.level, found.level_title,
                       found.designation, found.association, found.status,
                       found.valid_through, found.as_of, " | ".join(found.warnings))

    # Every cell goes through the one formula guard (federation_api/web/csv_files.py).
    return write_csv(ANSWER_COLUMNS, lines())


async def _body(request: Request) -> str:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != _CSV:
        raise BulkInputError(415, "send the file as text/csv (header endorsement_id,last_name)",
                             row="Content-Type", rule="bulk.media_type")
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > MAX_BYTES:
            raise BulkInputError(413, f"the file is larger than {MAX_BYTES:,} bytes; a file may "
                                 f"hold at most {MAX_ROWS:,} rows", row="body",
                                 rule="bulk.max_bytes")
    try:
        return received.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = received[:e.start].count(b"\n") + 1
        raise BulkInputError(422, f"line {line}: the file must be UTF-8 text",
                             row=f"line {line}", rule="bulk.encoding") from e


@router.post(
    "/v1/verify/bulk", tags=["public"], response_class=Response,
    responses={200: {"content": {_CSV: {"schema": {"type": "string"}}},
                     "description": "one answer row per input row"},
               **errors(401, 403, 413, 415, 422, 429)},
    openapi_extra={"requestBody": {"required": True, "content": {_CSV: {"schema": {
        "type": "string", "example": "endorsement_id,last_name\nAK-7Q4M2XKD,Doe\n"}}}}})
async def verify_bulk(request: Request, principal: Annotated[
        Principal, Depends(require(Role.EMPLOYER, *STAFF))]) -> Response:
    """Check up to 5,000 (endorsement id, last name) pairs from a CSV file (employer or staff
    token). The answer is CSV with columns row, endorsement_id, last_name, found, name,
    level, level_title, designation, association, status, valid_through, as_of, warnings."""
    try:
        rows = parse_rows(await _body(request))
    except BulkInputError as e:
        return e.response()
    refusal = row_budget_refusal(request, principal.token_id, len(rows))
    if refusal is not None:
        return refusal
    on = today()
    text = await run_in_threadpool(answer_rows, request.app.state.node, rows, on)
    return Response(text, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="verification-{on.isoformat()}.csv"',
        "Cache-Control": "no-store"})
