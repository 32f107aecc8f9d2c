"""HTTP models of the employer endpoints (pydantic at the edge, so OpenAPI is complete)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.levels import Level


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubscribeIn(_In):
    """Subscribe to one professional: the endorsement id and the holder's last name."""

    endorsement_id: str = Field(min_length=3, max_length=40, pattern=r"^[A-Za-z0-9-]+$")
    last_name: str = Field(min_length=1, max_length=100)


class SubscriptionOut(BaseModel):
    """A subscription and the endorsement's standing when it was answered."""

    endorsement_id: str
    name: str
    level: Level
    level_title: str
    association: str
    status: str
    valid_through: dt.date
    subscribed_at: str
    created: bool


class SubscriptionItem(BaseModel):
    """One subscription in a listing."""

    endorsement_id: str
    subscribed_at: str


class SubscriptionsOut(BaseModel):
    """A page of the employer's subscriptions; `next_after` pages on (null at the end)."""

    subscriptions: list[SubscriptionItem]
    next_after: str | None


class RowResult(BaseModel):
    """The outcome of one CSV row: subscribed, already_subscribed or not_found."""

    line: int
    endorsement_id: str
    result: Literal["subscribed", "already_subscribed", "not_found"]


class CsvResultOut(BaseModel):
    """Per-row results of a CSV upload and their counts."""

    rows: list[RowResult]
    subscribed: int
    already_subscribed: int
    not_found: int


class WebhookIn(_In):
    """Where to deliver: an http(s) URL. `rotate_secret` issues a new signing secret."""

    url: str = Field(min_length=8, max_length=2048)
    rotate_secret: bool = False


class WebhookOut(BaseModel):
    """The registered webhook; `secret` is present only when it was just created."""

    url: str
    created_at: str
    updated_at: str
    secret: str | None = None
    signature_header: str = "Alliance-Signature"
    delivery_id_header: str = "Alliance-Delivery-Id"


class ChangeOut(BaseModel):
    """One status change of a subscribed endorsement (public fields only)."""

    change_id: int
    kind: str
    endorsement_id: str
    name: str
    family_name: str
    given_name: str
    level: str
    level_title: str
    designation: str | None
    association: str
    old_status: str | None
    new_status: str
    effective_on: dt.date
    valid_through: dt.date
    recorded_by: str
    recorded_at: dt.datetime


class ChangesOut(BaseModel):
    """Changes after the cursor, oldest first, and the cursor to ask with next time."""

    changes: list[ChangeOut]
    next_cursor: int


class AttemptOut(BaseModel):
    """One delivery attempt: time, HTTP status (if the receiver answered), error."""

    attempt: int
    attempted_at: str
    status_code: int | None
    error: str | None


class DeliveryOut(BaseModel):
    """One webhook delivery with its attempts."""

    delivery_id: str
    change_id: int
    state: str
    attempts: int
    next_attempt_at: dt.datetime | None
    created_at: str
    finished_at: str | None
    log: list[AttemptOut]


class DeliveriesOut(BaseModel):
    """A page of deliveries; `next_after` (a change id) pages on, null at the end."""

    deliveries: list[DeliveryOut]
    next_after: int | None
