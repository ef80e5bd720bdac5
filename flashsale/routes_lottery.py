"""Lottery sales' API (docs/flashsale.md "Lottery"): registration, the member's entry, the
public draw record and entrants list, and the merchant's draw."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from marketplace.auth import auth_required, current_principal
from marketplace.permissions import Actor

from . import handon, lottery, services
from .routes_merchant import merchant
from .schemas import UTCAware

bp = Blueprint("flashsale_lottery", __name__, url_prefix="/api/v1", description="Lotteries")


class EntrySchema(Schema):
    campaign_id = fields.Integer()
    ticket = fields.String(metadata={"description": "find it in the published entrants list"})
    registered_at = UTCAware()
    state = fields.Method("_state", metadata={
        "enum": ["registered", "won", "waiting", "excluded", "passed"]})  # fmt: skip
    position = fields.Integer(allow_none=True)
    weight = fields.Integer(allow_none=True, metadata={"description": "the draw's weight"})
    reason = fields.String(allow_none=True, metadata={
        "description": "excluded: quota_exceeded / no_show_ban; passed: cancelled / "
                       "unconfirmed / unused"})  # fmt: skip
    confirm_by = UTCAware(allow_none=True)
    confirmed_at = UTCAware(allow_none=True)
    passed_at = UTCAware(allow_none=True)

    def _state(self, obj):
        return state_of(obj)


def state_of(entry) -> str:
    if entry.outcome is None:
        return "registered"
    if entry.outcome in ("won", "promoted"):
        return "passed" if entry.passed_at is not None else "won"
    return entry.outcome


class ExclusionSchema(Schema):
    ticket = fields.String()
    reason = fields.String()
    position = fields.Integer()


class DrawSchema(Schema):
    campaign_id = fields.Integer()
    commitment = fields.String(metadata={"description": "SHA-256 of the seed, shown at publish"})
    beacon_source = fields.String()
    beacon_round = fields.Integer()
    beacon_round_time = fields.Float(metadata={"description": "when the round is emitted (epoch)"})
    drawn = fields.Boolean()
    drawn_at = fields.String(allow_none=True)
    seed = fields.String(allow_none=True)
    beacon_value = fields.String(allow_none=True)
    entrants_hash = fields.String(allow_none=True)
    entrants = fields.Integer(allow_none=True)
    winners = fields.Integer(allow_none=True)
    stock = fields.Integer()
    weights = fields.Dict(
        allow_none=True,
        metadata={
            "description": "the weight rules stated with the sale (null: every entrant weighs 1)"
        },
    )
    confirm_hours = fields.Integer(allow_none=True)
    excluded = fields.List(fields.Nested(ExclusionSchema), metadata={
        "description": "drawn while over quota or barred: skipped (winners = order minus these)"
    })  # fmt: skip


class WinnerSchema(Schema):
    ticket = fields.String()
    position = fields.Integer()
    outcome = fields.String()
    won_at = UTCAware(allow_none=True)
    confirm_by = UTCAware(allow_none=True)
    confirmed_at = UTCAware(allow_none=True)
    passed_at = UTCAware(allow_none=True)
    reason = fields.String(allow_none=True)
    code = fields.String(allow_none=True)
    voucher_status = fields.String(allow_none=True)
    can_mark_unused = fields.Boolean()


@bp.route("/flashsales/<int:campaign_id>/entries")
class Entries(MethodView):
    @auth_required("lottery.enter")
    @bp.response(201, EntrySchema)
    @bp.alt_response(200, schema=EntrySchema, description="already registered (same entry)")
    def post(self, campaign_id):
        """Register for a lottery sale during its window (idempotent: one entry per member)."""
        entry, created = lottery.register(current_principal(), campaign_id)
        return entry, 201 if created else 200


@bp.route("/flashsales/<int:campaign_id>/entries/me")
class MyEntry(MethodView):
    @auth_required("lottery.enter")
    @bp.response(200, EntrySchema)
    def get(self, campaign_id):
        """The member's entry: ticket, and after the draw ``won`` or ``waiting`` with the place."""
        return lottery.own_entry(current_principal(), campaign_id)


@bp.route("/flashsales/<int:campaign_id>/entries/me/confirm")
class ConfirmEntry(MethodView):
    @auth_required("lottery.enter")
    @bp.response(200, EntrySchema)
    def post(self, campaign_id):
        """A winner confirms before ``confirm_by`` (idempotent), or the ticket passes on."""
        return handon.confirm(lottery.own_entry(current_principal(), campaign_id))


@bp.route("/flashsales/<int:campaign_id>/draw")
class PublicDraw(MethodView):
    @auth_required("sale.browse")
    @bp.response(200, DrawSchema)
    def get(self, campaign_id):
        """The draw record: commitment and beacon round from publish on; seed, beacon value and
        entrants hash once drawn (recompute with the recipe in docs/flashsale.md)."""
        return lottery.public(lottery.get_draw(campaign_id))


@bp.route("/flashsales/<int:campaign_id>/draw/entrants")
class PublicEntrants(MethodView):
    @auth_required("sale.browse")
    @bp.doc(responses={200: {"description": "text/plain: every ticket, sorted, one per line"}})
    def get(self, campaign_id):
        """The entrants list as the draw used it (tickets only, no identities; in a weighted
        sale each line is ``ticket weight``), once drawn."""
        draw = lottery.get_draw(campaign_id)
        body = "\n".join(lottery.entrant_lines(campaign_id)) if draw.entrants_hash else ""
        return Response(body + ("\n" if body else ""), mimetype="text/plain")


@bp.route("/merchant/campaigns/<int:campaign_id>/draw")
class MerchantDraw(MethodView):
    @auth_required("sale.view")
    @bp.response(200, DrawSchema)
    def get(self, campaign_id):
        services.get_own(merchant().merchant_id, campaign_id)  # another merchant's: 404
        return lottery.public(lottery.get_draw(campaign_id))

    @auth_required("sale.draw")
    @bp.response(200, DrawSchema)
    def post(self, campaign_id):
        """Run the draw (once, after registration closed; a second call: 409 already_drawn)."""
        principal = merchant()
        campaign = services.get_own(principal.merchant_id, campaign_id)
        return lottery.public(lottery.run_draw(campaign, actor=Actor(principal)))


@bp.route("/merchant/campaigns/<int:campaign_id>/winners")
class MerchantWinners(MethodView):
    @auth_required("sale.handon")
    @bp.response(200, WinnerSchema(many=True))
    def get(self, campaign_id):
        """A lottery sale's winners in drawn order: voucher, confirmation, hand-on."""
        campaign = services.get_own(merchant().merchant_id, campaign_id)
        return handon.winners(campaign)


@bp.route("/merchant/campaigns/<int:campaign_id>/vouchers/<code>/unused")
class MarkUnused(MethodView):
    @auth_required("sale.handon")
    @bp.response(200, EntrySchema)
    def post(self, campaign_id, code):
        """Mark a lottery winner's voucher unused before the sale's ``handon_until``: it is
        cancelled and the ticket passes to the next on the waiting list, who is told."""
        principal = merchant()
        campaign = services.get_own(principal.merchant_id, campaign_id)
        return handon.mark_unused(campaign, code, actor=Actor(principal))
