"""Member web pages under /m/: activate, log in, forgotten password, my card, log out (session
cookie + CSRF). The member home (``/m/``) gathers every feature, so the shell serves it."""

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
from .forms import ActivateForm, LoginForm, LogoutForm, ResetPasswordForm

bp = Blueprint("members_pages", __name__, url_prefix="/m")


HOME = "/m/"  # the member home (shihui/member_app.py)


def _safe_next(target: str | None) -> str:
    """Where a login lands: a same-site ``next``, else the member home."""
    return safe_path(target, HOME)


@bp.app_context_processor
def inject_logout_form():
    return {"logout_form": LogoutForm}


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


@bp.route("/forgot", methods=["GET", "POST"])
def forgot_password():
    """No SMS: the member asks their branch union for a one-time code (marketplace/auth/reset.py)
    and sets a new password here with the card number and that code."""
    from ..auth import reset

    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            reset.reset(form.card_no.data, form.code.data, form.password.data,
                        request.remote_addr)  # fmt: skip
        except Problem as exc:
            flash(_problem_message(exc), "error")
            return render_template("members/forgot.html", form=form), exc.status
        flash(_("Your password is changed. Log in with the new one."), "success")
        return redirect(url_for("members_pages.login"))
    return render_template("members/forgot.html", form=form)


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
    return redirect(HOME)


def _problem_message(exc: Problem) -> str:
    messages = {
        "activation_failed": _("The card details do not match our records."),
        "already_active": _("This card is already activated; please log in."),
        "invalid_credentials": _("The card number or password is incorrect."),
        "invalid_reset_code": _(
            "The card number or reset code is wrong, or the code has expired or been used."
        ),
        "rate_limited": _("Too many attempts. Please try again later."),
        "validation_error": _("Please check the form."),
    }
    return messages.get(exc.code, _("Something went wrong. Please try again."))
