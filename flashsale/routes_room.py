"""The waiting room's API (docs/flashsale.md "Waiting room"): join, the member's status, and
the merchant's admission rate.

``GET /flashsales/<id>/queue/me`` is what every waiting phone polls: no SQL, one Redis round trip
(one ``room.lua`` call, which also lets in whoever is due), and a body built with ``json.dumps``
(no schema), so it costs little more than the token check.
"""

from __future__ import annotations

import json

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from marketplace import fastlane
from marketplace.auth import auth_required, current_principal
from marketplace.errors import Conflict, Forbidden, NotFound

from . import room, services
from .hotpath import campaign_meta
from .routes_merchant import merchant
from .settings import setting

bp = Blueprint("flashsale_room", __name__, url_prefix="/api/v1", description="Waiting rooms")


class RoomStatusSchema(Schema):
    state = fields.String(metadata={"enum": list(room.STATES)})
    place = fields.Integer(allow_none=True, metadata={"description": "null before the start"})
    ahead = fields.Integer(allow_none=True)
    admitted = fields.Integer()
    queued = fields.Integer()
    remaining = fields.Integer()
    estimated_wait_seconds = fields.Integer(allow_none=True)
    likely_sold_out = fields.Boolean()
    poll_after_seconds = fields.Float()
    # "pass" is a Python keyword: the field is declared by name below.
    pass_expires_at_ms = fields.Integer(allow_none=True)
    starts_at_ms = fields.Integer()
    server_time_ms = fields.Integer()
    place_ticket = fields.String(
        allow_none=True,
        metadata={
            "description": "after the start: send it back as the Queue-Place header of the next "
            "polls (a waiting member is then answered without a Redis call)"
        },
    )


RoomStatusSchema._declared_fields["pass"] = fields.String(
    allow_none=True, metadata={"description": "send it as the Queue-Pass header of the claim"}
)


def _document(state, campaign_id: int, member_id: int, ticket: str | None = None) -> str:
    budget = float(setting("FLASHSALE_QUEUE_STATUS_BUDGET"))
    return json.dumps(room.as_json(state, campaign_id, member_id, budget, ticket))


def _answer(state, campaign_id: int, member_id: int, ticket: str | None = None) -> Response:
    return Response(_document(state, campaign_id, member_id, ticket), mimetype="application/json",
                    headers={"Cache-Control": "no-store"})  # fmt: skip


@bp.route("/flashsales/<int:campaign_id>/queue")
class Queue(MethodView):
    @auth_required("queue.join")
    @bp.response(200, RoomStatusSchema)
    def post(self, campaign_id):
        """Join the sale's waiting room (idempotent: a member keeps the first place).

        Open from ``queue_opens_at``; members who join before the start get a uniformly random
        place at the start, later ones line up in arrival order. Same eligibility as a claim.
        """
        principal = current_principal()
        meta = campaign_meta(campaign_id)
        if meta is None:
            raise NotFound("No such flash sale.", code="not_found")
        if meta.mode != "queue":
            raise Conflict("This sale has no waiting room.", code="not_queue_sale")
        if meta.require_active_card and not principal.card_active:
            raise Forbidden("Activate your union card to take part.", code="card_inactive")
        if meta.regions and principal.region not in meta.regions:
            raise Forbidden("This sale is for members of other regions.", code="not_eligible")
        if not meta.available:
            raise Conflict("The sale is over.", code="queue_closed")
        state = room.joined(room.require_room(room.join(campaign_id, principal.member_id)))
        return _answer(state, campaign_id, principal.member_id)


@bp.route("/flashsales/<int:campaign_id>/queue/me")
class QueueMe(MethodView):
    @auth_required("queue.join")
    @bp.response(200, RoomStatusSchema)
    def get(self, campaign_id):
        """The member's state in the room: ``waiting`` (place, ahead, estimated wait),
        ``admitted`` (with the pass), ``claimed``, ``expired``, ``sold_out``, ``closed`` or
        ``not_joined``; poll again after ``poll_after_seconds``. No SQL, one Redis call."""
        member_id = current_principal().member_id
        document = _status(campaign_id, member_id, request.headers.get(room.PLACE_HEADER))
        return Response(document, mimetype="application/json",
                        headers={"Cache-Control": "no-store"})  # fmt: skip


def _status(campaign_id: int, member_id: int, ticket: str | None) -> str:
    # A waiting member who sends its place ticket is answered from this process's snapshot
    # of the room (no Redis call); everyone else by the script (flashsale/room.py).
    state = ticket and room.fast_status(campaign_id, member_id, ticket)
    if state:  # the ticket was checked for this member, sale and place: echoed back
        return _document(state, campaign_id, member_id, ticket)
    state = room.require_room(room.status(campaign_id, member_id))
    return _document(state, campaign_id, member_id)


# The status poll in the fast lane (marketplace/fastlane.py); tests/flashsale/test_fastlane.py
# holds it equal to the view above.
def fast_status(req: dict, match) -> fastlane.Answer:
    document = _status(int(match[1]), current_principal().member_id,
                       fastlane.header(req, room.PLACE_HEADER))  # fmt: skip
    headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
    return 200, headers, document.encode()


def init_fast_lane(app) -> None:
    fastlane.route(app, "GET", r"/api/v1/flashsales/([1-9][0-9]{0,17})/queue/me",
                   rule="/api/v1/flashsales/<int:campaign_id>/queue/me",
                   action="queue.join")(fast_status)  # fmt: skip


class RateSchema(Schema):
    admission_rate = fields.Float(required=True, validate=validate.Range(min=0.1, max=100_000))


@bp.route("/merchant/campaigns/<int:campaign_id>/queue/rate")
class QueueRate(MethodView):
    @auth_required("sale.queue_rate")
    @bp.arguments(RateSchema)
    @bp.response(200, RateSchema)
    def post(self, data, campaign_id):
        """Change the waiting room's admissions per second, also while the sale runs."""
        campaign = services.set_admission_rate(merchant(), campaign_id, data["admission_rate"])
        return {"admission_rate": campaign.admission_rate}
