"""Lottery sales' API (docs/flashsale.md "Lottery"): registration, the member's entry, the
public draw record and entrants list, and the merchant's draw."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from marketplace.auth import auth_required, current_principal
from marketplace.permissions import Actor

from . import lottery, services
from .routes_merchant import merchant
from .schemas import UTCAware

bp = Blueprint("flashsale_lottery", __name__, url_prefix="/api/v1", description="Lotteries")


class EntrySchema(Schema):
    campaign_id = fields.Integer()
    ticket = fields.String(metadata={"description": "find it in the published entrants list"})
    registered_at = UTCAware()
    state = fields.Method("_state", metadata={"enum": ["registered", "won", "waiting"]})
    position = fields.Integer(allow_none=True)

    def _state(self, obj):
        if obj.outcome is None:
            return "registered"
        return "won" if obj.outcome in ("won", "promoted") else "waiting"


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
        """The entrants list as the draw used it (tickets only, no identities), once drawn."""
        draw = lottery.get_draw(campaign_id)
        body = "\n".join(lottery.tickets_in_order(campaign_id)) if draw.entrants_hash else ""
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
