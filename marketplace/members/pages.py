"""Member web pages under /m/: home, activate, log in, my card, log out (session cookie + CSRF)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ..auth.decorators import page_required
from ..auth.services import authenticate
from ..auth.session import SessionUser
from ..auth.tokens import bump_token_version
from ..errors import Problem
from ..redirects import safe_path
from . import cardcode, services
from .forms import ActivateForm, LoginForm, LogoutForm

bp = Blueprint("members_pages", __name__, url_prefix="/m")


def _safe_next(target: str | None) -> str:
    return safe_path(target, url_for("members_pages.card"))


@bp.app_context_processor
def inject_logout_form():
    return {"logout_form": LogoutForm}


@bp.get("/")
def home():
    return render_template("members/home.html")


@bp.route("/activate", methods=["GET", "POST"])
def activate():
    form = ActivateForm()
    if form.validate_on_submit():
        try:
            account = services.activate(
                card_no=form.card_no.data,
                name=form.name.data,
                id_number=form.id_number.data,
                phone=form.phone.data,
                password=form.password.data,
                client_ip=request.remote_addr,
            )
        except Problem as exc:
            flash(_problem_message(exc), "error")
            return render_template("members/activate.html", form=form), exc.status
        login_user(SessionUser(account))
        flash(_("Your card is activated."), "success")
        return redirect(url_for("members_pages.card"))
    return render_template("members/activate.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            account = authenticate(form.username.data, form.password.data, request.remote_addr)
        except Problem as exc:
            flash(_problem_message(exc), "error")
            return render_template("auth/login.html", form=form), exc.status
        login_user(SessionUser(account))
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.get("/card")
@page_required("account.self")
def card():
    account = current_user.account
    member = account.member if account.member_id else None
    if member is None:
        abort(404)
    card = member.current_card
    shown = cardcode.current(card) if card.status == "active" else None
    return render_template("members/card.html", member=member, card=card,
                           face=cardcode.face(card), shown=shown,
                           qr=shown and cardcode.qr_data_uri(shown.code))  # fmt: skip


@bp.get("/card/code")
@page_required("account.self")
def card_code():
    """The card's code of this step and its QR (the card page's script asks before each step
    ends); ``no-store``: a code is good for two steps only. A card that is not active: 409."""
    account = current_user.account
    member = account.member if account.member_id else None
    if member is None:
        abort(404)
    card = member.current_card
    if card.status != "active":
        raise cardcode.CardNotActive(
            "Only an active card shows a code.",
            code="card_frozen" if card.status == "frozen" else "card_inactive",
            card_status=card.status,
        )
    shown = cardcode.current(card)
    response = jsonify(shown.as_dict() | {"qr": cardcode.qr_data_uri(shown.code)})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/logout")
def logout():
    form = LogoutForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        bump_token_version(current_user.account)  # the old cookie is useless even if copied
        logout_user()
    flash(_("You are logged out."), "success")
    return redirect(url_for("members_pages.home"))


def _problem_message(exc: Problem) -> str:
    messages = {
        "activation_failed": _("The card details do not match our records."),
        "already_active": _("This card is already activated; please log in."),
        "invalid_credentials": _("The card number or password is incorrect."),
        "rate_limited": _("Too many attempts. Please try again later."),
        "validation_error": _("Please check the form."),
    }
    return messages.get(exc.code, _("Something went wrong. Please try again."))
