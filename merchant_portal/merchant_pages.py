"""Merchant portal pages under /merchant/: apply, log in, dashboard, sales, staff, counter,
exports and the audit log. Every action calls the services the JSON API calls."""

from __future__ import annotations

import secrets

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _

from catalogue.models import GroupBuyVoucher
from flashsale import services as fs
from flashsale.schemas import SaleVoucherSchema
from marketplace import permissions
from marketplace.auth.decorators import page_required
from marketplace.errors import Problem
from marketplace.extensions import db
from marketplace.members import cardcode
from marketplace.models import utcnow
from marketplace.pagination import page_arg, paginate
from marketplace.redirects import is_safe_path

from . import audit_log, counter, exports, onboarding, sales, staff, stats
from .forms import (
    SHANGHAI,
    ActionForm,
    ApplicationForm,
    RedeemForm,
    SaleForm,
    StaffForm,
    TopUpForm,
)
from .web import apply_errors, login_page, logout_page, message

bp = Blueprint(
    "merchant_pages", __name__, url_prefix="/merchant", template_folder="templates",
    static_folder="static", static_url_path="/portal-static",
)  # fmt: skip


def portal(action: str):
    """A portal page for ``action`` of the permission table (no session: the portal's login)."""
    return page_required(action, login="merchant_pages.login")


@bp.app_context_processor
def _portal_helpers():
    return {"action_form": ActionForm}


@bp.app_template_filter("shanghai")
def shanghai(value) -> str:
    """A UTC datetime as Beijing time, to the minute (what merchants and admins read)."""
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else ""


# --------------------------------------------------------------------------- onboarding, login


@bp.route("/apply", methods=["GET", "POST"])
def apply():
    form = ApplicationForm()
    if form.validate_on_submit():
        data = {name: getattr(form, name).data for name in (
            "business_name", "licence_no", "category", "region", "address", "contact_name",
            "contact_phone", "owner_username", "owner_password")}  # fmt: skip
        try:
            merchant = onboarding.apply(data)
        except Problem as exc:
            apply_errors(form, exc)
            flash(message(exc), "error")
            return render_template("merchant_portal/apply.html", form=form), exc.status
        return render_template("merchant_portal/applied.html", merchant=merchant), 201
    return render_template("merchant_portal/apply.html", form=form), 422 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login():
    return login_page("portal.enter", "merchant_portal/login.html", "merchant_pages.home")


@bp.post("/logout")
def logout():
    return logout_page("merchant_pages.login")


@bp.get("/")
@portal("portal.enter")
def home():
    if not permissions.allows(g.principal.role, "sale.view"):  # clerks work at the counter
        return redirect(url_for("merchant_pages.counter_page"))
    view = stats.merchant_overview(g.principal)
    return render_template("merchant_portal/dashboard.html", **view)


@bp.get("/dashboard.json")
@portal("sale.view")
def dashboard_json():
    view = stats.merchant_overview(g.principal)
    return jsonify(totals=view["totals"], sales=[live for _c, live in view["rows"]])


# --------------------------------------------------------------------------- sales


@bp.get("/sales")
@portal("sale.view")
def sale_list():
    merchant = permissions.staff_merchant(g.principal, "sale.view")
    campaigns = db.session.scalars(fs.list_own(merchant.id).limit(200)).all()
    remaining = fs.remaining_of(campaigns)
    return render_template(
        "merchant_portal/sales.html", merchant=merchant, campaigns=campaigns,
        status_of=lambda c: fs.effective_status(c, remaining=remaining.get(c.id)),
    )  # fmt: skip


def _save_cover(form) -> str | None:
    upload = form.cover.data
    if not upload or not getattr(upload, "filename", ""):
        return None
    image = sales.save_cover(g.principal, upload.read())
    return url_for("merchant_pages.cover", image_id=image.id, _external=True)


@bp.route("/sales/new", methods=["GET", "POST"])
@portal("sale.create")
def sale_new():
    merchant = permissions.merchant_for(g.principal, "sale.create")
    form = SaleForm()
    if form.validate_on_submit():
        try:
            values = form.values()
            cover = _save_cover(form)
            if cover:
                values["image_url"] = cover
            campaign = sales.create(g.principal, values)
        except Problem as exc:
            apply_errors(form, exc)
            flash(message(exc), "error")
            return render_template("merchant_portal/sale_form.html", form=form,
                                   merchant=merchant, campaign=None), exc.status  # fmt: skip
        flash(_("The sale is saved as a draft. Publish it when it is ready."), "success")
        return redirect(url_for("merchant_pages.sale_detail", campaign_id=campaign.id))
    status = 422 if form.errors else 200
    return render_template("merchant_portal/sale_form.html", form=form, merchant=merchant,
                           campaign=None), status  # fmt: skip


@bp.route("/sales/<int:campaign_id>/edit", methods=["GET", "POST"])
@portal("sale.edit")
def sale_edit(campaign_id: int):
    campaign = sales.own_sale(g.principal, campaign_id, "sale.edit")
    merchant = campaign.merchant
    form = SaleForm()
    if campaign.status != "draft":  # the mode is fixed once published (the form hides it)
        form.mode.data = campaign.mode
    if request.method == "GET":
        form.fill(campaign)
    elif form.validate_on_submit():
        values = form.values()
        if campaign.status != "draft":  # only what changed, so a live sale accepts a new stock
            values = {k: v for k, v in values.items() if getattr(campaign, k) != v}
        try:
            cover = _save_cover(form)
            if cover:
                values["image_url"] = cover
            sales.update(g.principal, campaign_id, values)
        except Problem as exc:
            apply_errors(form, exc)
            flash(message(exc), "error")
            return render_template("merchant_portal/sale_form.html", form=form,
                                   merchant=merchant, campaign=campaign), exc.status  # fmt: skip
        flash(_("Saved."), "success")
        return redirect(url_for("merchant_pages.sale_detail", campaign_id=campaign_id))
    status = 422 if form.errors else 200
    return render_template("merchant_portal/sale_form.html", form=form, merchant=merchant,
                           campaign=campaign), status  # fmt: skip


@bp.get("/sales/<int:campaign_id>")
@portal("sale.view")
def sale_detail(campaign_id: int):
    campaign = sales.own_sale(g.principal, campaign_id)
    return render_template(
        "merchant_portal/sale.html", c=campaign, live=stats.live(campaign), topup=TopUpForm(),
        winners=sales.lottery_winners(g.principal, campaign),
    )  # fmt: skip


@bp.get("/sales/<int:campaign_id>/live.json")
@portal("sale.view")
def sale_live(campaign_id: int):
    return jsonify(stats.live(sales.own_sale(g.principal, campaign_id)))


def _sale_action(campaign_id: int, action, done: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        result = action()
    except Problem as exc:
        if exc.status in (403, 404):
            raise
        flash(message(exc), "error")
        return redirect(url_for("merchant_pages.sale_detail", campaign_id=campaign_id))
    flash(done, "success")
    target = getattr(result, "id", campaign_id)
    return redirect(url_for("merchant_pages.sale_detail", campaign_id=target))


@bp.post("/sales/<int:campaign_id>/publish")
@portal("sale.publish")
def sale_publish(campaign_id: int):
    return _sale_action(campaign_id, lambda: sales.publish(g.principal, campaign_id),
                        _("Published: members see the sale now."))  # fmt: skip


@bp.post("/sales/<int:campaign_id>/vouchers/<code>/unused")
@portal("sale.handon")
def sale_mark_unused(campaign_id: int, code: str):
    """A lottery winner's voucher marked unused in time: the ticket passes on."""
    return _sale_action(
        campaign_id,
        lambda: sales.mark_unused(g.principal, campaign_id, code),
        _("Marked unused: the ticket passed to the next on the waiting list."),
    )


@bp.post("/sales/<int:campaign_id>/cancel")
@portal("sale.cancel")
def sale_cancel(campaign_id: int):
    return _sale_action(campaign_id, lambda: sales.cancel(g.principal, campaign_id),
                        _("The sale is cancelled."))  # fmt: skip


@bp.post("/sales/<int:campaign_id>/duplicate")
@portal("sale.duplicate")
def sale_duplicate(campaign_id: int):
    return _sale_action(campaign_id, lambda: sales.duplicate(g.principal, campaign_id),
                        _("A draft copy was made; check its times and publish it."))  # fmt: skip


@bp.post("/sales/<int:campaign_id>/top-up")
@portal("sale.top_up")
def sale_top_up(campaign_id: int):
    form = TopUpForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        sales.own_sale(g.principal, campaign_id, "sale.top_up")
        flash(_("Enter how many tickets to add (1 to 1,000,000)."), "error")
        return redirect(url_for("merchant_pages.sale_detail", campaign_id=campaign_id))
    return _sale_action(campaign_id, lambda: sales.top_up(g.principal, campaign_id, form.add.data),
                        _("Stock topped up."))  # fmt: skip


def _svg(data: bytes) -> Response:
    return Response(data, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


@bp.get("/sales/<int:campaign_id>/claims.svg")
@portal("sale.view")
def chart_claims(campaign_id: int):
    campaign = sales.own_sale(g.principal, campaign_id)
    series = stats.claims_per_minute(campaign.id)
    return _svg(stats.bar_svg(series, _("Claims per minute"), _("Claims"), _("No claims yet"),
                              short=lambda b: b[11:]))  # fmt: skip


@bp.get("/sales/<int:campaign_id>/redemptions.svg")
@portal("sale.view")
def chart_redemptions(campaign_id: int):
    campaign = sales.own_sale(g.principal, campaign_id)
    series = stats.redemptions_per_day(campaign.id)
    return _svg(stats.bar_svg(series, _("Redemptions per day"), _("Redemptions"),
                              _("No redemptions yet"), short=lambda b: b[5:]))  # fmt: skip


def _export_language() -> str:
    """``?lang=en`` for the English column keys; otherwise the page's language."""
    return exports.language(request.args.get("lang"), str(get_locale()))


@bp.get("/sales/<int:campaign_id>/vouchers.csv")
@portal("sale.export")
def export_vouchers(campaign_id: int):
    campaign = sales.own_sale(g.principal, campaign_id, "sale.export")
    return exports.csv_response(exports.vouchers_csv(campaign, _export_language()),
                                f"sale-{campaign.id}-vouchers.csv")  # fmt: skip


@bp.get("/sales/<int:campaign_id>/redemptions.csv")
@portal("sale.export")
def export_redemptions(campaign_id: int):
    campaign = sales.own_sale(g.principal, campaign_id, "sale.export")
    return exports.csv_response(exports.redemptions_csv(campaign, _export_language()),
                                f"sale-{campaign.id}-redemptions.csv")  # fmt: skip


@bp.get("/media/covers/<int:image_id>")
def cover(image_id: int):
    image = sales.get_cover(image_id)
    return Response(image.data, mimetype=image.content_type, headers={
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        "ETag": image.sha256,
    })  # fmt: skip


# --------------------------------------------------------------------------- staff


@bp.route("/staff", methods=["GET", "POST"])
@portal("staff.manage")
def staff_page_view():
    form = StaffForm()
    status = 200
    if form.validate_on_submit():
        try:
            account = staff.add_clerk(g.principal, form.username.data, form.password.data)
        except Problem as exc:
            apply_errors(form, exc, {"password": "password", "username": "username"})
            flash(message(exc), "error")
            status = exc.status
        else:
            flash(_("Clerk %(name)s can now log in at the counter page.", name=account.username),
                  "success")  # fmt: skip
            return redirect(url_for("merchant_pages.staff_page_view"))
    elif form.errors:
        status = 422
    clerks = staff.list_staff(g.principal)
    return render_template("merchant_portal/staff.html", form=form, clerks=clerks), status


@bp.post("/staff/<int:account_id>/remove")
@portal("staff.manage")
def staff_remove(account_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    account = staff.remove_clerk(g.principal, account_id)
    flash(_("%(name)s can no longer log in.", name=account.username), "success")
    return redirect(url_for("merchant_pages.staff_page_view"))


# --------------------------------------------------------------------------- counter


def _counter(status=200, **context):
    now = utcnow()
    return render_template(
        "merchant_portal/counter.html", recent=counter.recent(g.principal, 10),
        revertible=lambda r: counter.revertible(r, now), **context,
    ), status  # fmt: skip


@bp.get("/counter")
@portal("voucher.redeem")
def counter_page():
    code = (request.args.get("code") or "").strip()
    if not code:
        return _counter()
    if cardcode.looks_like(code):  # a member card's QR, not a voucher
        if not permissions.allows(g.principal.role, "card.verify"):
            abort(403)
        try:
            return _counter(code=code, card_check=counter.verify_card(g.principal, code))
        except Problem as exc:
            return _counter(exc.status, code=code, error=message(exc),
                            card_status=exc.extra.get("card_status"))  # fmt: skip
    try:
        voucher = counter.lookup(g.principal, code)
    except Problem as exc:
        return _counter(exc.status, code=code, error=message(exc))
    group = isinstance(voucher, GroupBuyVoucher)
    shown = counter.groupbuy_shown(voucher) if group else SaleVoucherSchema().dump(voucher)
    if shown["status"] != "issued":
        if voucher.status == "redeemed" and group:
            return _counter(409, code=code, voucher=shown, error=message(Problem(
                code="already_redeemed")), redeemed_at=voucher.redeemed_at)  # fmt: skip
        if voucher.status == "redeemed":
            problem = fs.already_redeemed(voucher)
            return _counter(409, code=code, voucher=shown, error=message(problem),
                            redeemed_at=voucher.redeemed_at)  # fmt: skip
        return _counter(409, code=code, voucher=shown,
                        error=message(Problem(code=f"voucher_{shown['status']}")))  # fmt: skip
    form = RedeemForm(code=voucher.code, key=secrets.token_urlsafe(16))
    return _counter(code=code, voucher=shown, confirm=form)


@bp.post("/counter/redeem")
@portal("voucher.redeem")
def counter_redeem():
    form = RedeemForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        redemption = counter.redeem(g.principal, form.code.data, form.key.data)
    except Problem as exc:
        return _counter(exc.status, code=form.code.data, error=message(exc))
    return _counter(code=form.code.data, redeemed=redemption)


@bp.post("/redemptions/<int:redemption_id>/revert")
@portal("redemption.revert")
def redemption_revert(redemption_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        counter.revert(g.principal, redemption_id)
    except Problem as exc:
        if exc.status == 404:
            raise
        flash(message(exc), "error")
    else:
        flash(_("Reverted: the voucher can be used again."), "success")
    return redirect(safe_back())


def safe_back() -> str:
    target = request.form.get("next") or ""
    if target.startswith("/merchant/") and is_safe_path(target):
        return target
    return url_for("merchant_pages.counter_page")


@bp.get("/redemptions")
@portal("redemption.view")
def redemptions():
    now = utcnow()
    return render_template("merchant_portal/redemptions.html",
                           recent=counter.recent(g.principal, 100),
                           revertible=lambda r: counter.revertible(r, now))  # fmt: skip


# --------------------------------------------------------------------------- audit log


@bp.get("/audit")
@portal("audit.view_own")
def audit():
    merchant = permissions.staff_merchant(g.principal, "audit.view_own")
    stmt = audit_log.events_query(merchant.id, request.args.get("subject") or None)
    result = paginate(stmt, page=page_arg(), per_page=50)
    return render_template("merchant_portal/audit.html", events=audit_log.as_dicts(result.items),
                           result=result, admin=False)  # fmt: skip
