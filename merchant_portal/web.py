"""Session plumbing shared by the portal and console pages: login, logout, messages.

Who may open which page is the permission table's (:mod:`marketplace.permissions`), asked by
:func:`marketplace.auth.decorators.page_required`."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from marketplace import permissions
from marketplace.auth.services import authenticate
from marketplace.auth.session import SessionUser
from marketplace.auth.tokens import bump_token_version
from marketplace.errors import Problem
from marketplace.redirects import safe_path

from .forms import ActionForm, LoginForm


def login_page(action: str, template: str, home: str):
    """The login form of a set of pages whose entry is ``action`` (other roles: 403)."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            account = authenticate(form.username.data, form.password.data, request.remote_addr)
        except Problem as exc:
            flash(message(exc), "error")
            return render_template(template, form=form), exc.status
        if not permissions.allows(account.role, action):
            flash(_("This login cannot use these pages."), "error")
            return render_template(template, form=form), 403
        login_user(SessionUser(account))
        return redirect(safe_path(request.args.get("next"), url_for(home)))
    return render_template(template, form=form)


def logout_page(home: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        bump_token_version(current_user.account)
        logout_user()
    flash(_("You are logged out."), "success")
    return redirect(url_for(home))


def message(exc: Problem) -> str:
    """A person's sentence for a problem code (pages show these, the API returns the codes)."""
    messages = {
        "invalid_credentials": _("The login name or password is incorrect."),
        "rate_limited": _("Too many attempts. Please try again later."),
        "validation_error": _("Please check the form."),
        "username_taken": _("That login name is taken."),
        "licence_taken": _("A merchant with this licence number has already applied."),
        "merchant_suspended": _("Your merchant is suspended: sales cannot be published or sold."),
        "merchant_not_active": _("Your merchant is not approved yet."),
        "merchant_not_approved": _("Your merchant is not approved yet."),
        "already_published": _("This sale is already published."),
        "ends_in_past": _("The sale's closing time has passed."),
        "not_editable": _("Once a sale is live only its stock can grow."),
        "stock_decrease": _("A live sale's stock can only grow."),
        "stock_below_claimed": _("The stock cannot be below what is already claimed."),
        "already_ended": _("The sale has already ended."),
        "already_redeemed": _("Already redeemed"),
        "voucher_expired": _("This voucher has expired."),
        "voucher_cancelled": _("This voucher was cancelled by the member."),
        "voucher_not_yet_valid": _("This voucher is not valid yet."),
        "not_found": _("No such voucher for this merchant."),
        "voucher_not_found": _("No such voucher for this merchant."),
        "revert_window_passed": _("A redemption can only be reverted within 10 minutes."),
        "not_redeemed": _("The voucher is no longer redeemed."),
        "invalid_transition": _("This change is not possible in the merchant's current state."),
        "cover_too_large": _("The picture is too large (at most 512 KB)."),
        "cover_type": _("The picture must be a JPEG, PNG or WebP file."),
        "forbidden": _("You may not do this."),
        "illegal_transition": _("This group-buy has already been decided."),
        "card_code_invalid": _("This is not a valid member card code."),
        "card_code_expired": _(
            "This card code has expired: ask the member to show the card page again."
        ),
        "card_frozen": _("This member card is frozen."),
        "card_inactive": _("This member card is not active."),
    }
    return messages.get(exc.code, _("Something went wrong. Please try again."))


def apply_errors(form, exc: Problem, mapping: dict[str, str] | None = None) -> bool:
    """Put a service's field errors onto the form's fields; False if none matched."""
    matched = False
    for name, errors in (exc.extra.get("errors") or {}).items():
        field = getattr(form, (mapping or {}).get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [str(e) for e in errors]
            matched = True
    return matched
