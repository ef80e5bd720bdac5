"""Pages: the member's inbox (``/m/messages``) and the admins' announcements
(``/admin/announcements``: write, list, withdraw, who read it as a chart)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pygal
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from pygal.style import Style

from marketplace import orgs
from marketplace.auth.decorators import page_required
from marketplace.errors import Problem
from marketplace.models import utcnow
from marketplace.pagination import page_arg
from marketplace.validation import form_id

from . import announcements, notices, realtime, reminders
from . import conversations as convs

member_pages = Blueprint(
    "messaging_pages", __name__, url_prefix="/m/messages", template_folder="templates",
    static_folder="static", static_url_path="/static",
)  # fmt: skip
admin_pages = Blueprint(
    "messaging_admin_pages", __name__, url_prefix="/admin/announcements",
    template_folder="templates",
)  # fmt: skip
SHANGHAI = ZoneInfo("Asia/Shanghai")
STYLE = Style(
    background="white", plot_background="white", foreground="#1f2328",
    foreground_strong="#1f2328", foreground_subtle="#656d76", colors=("#8c959f", "#c8102e"),
    font_family="system-ui, 'PingFang SC', 'Microsoft YaHei', 'WenQuanYi Zen Hei', sans-serif",
)  # fmt: skip


def admin_page(action: str):
    return page_required(action, login="admin_pages.login")


def member_page(action: str):
    return page_required(action, login="members_pages.login")


PROBLEMS = {
    "audience_out_of_scope": lambda: _("That audience is outside the organisation you manage."),
    "image_too_large": lambda: _("The picture is too large (at most 512 KB)."),
    "unsupported_image": lambda: _("The picture must be a JPEG, PNG or WebP file."),
    "already_withdrawn": lambda: _("This announcement is already withdrawn."),
    "validation_error": lambda: _("Please check the form."),
    "rate_limited": lambda: _("You are sending too fast. Please wait a minute."),
    "no_branch": lambda: _("You belong to no union branch yet."),
    "already_closed": lambda: _("This conversation is already closed."),
    "bad_assignee": lambda: _("That colleague cannot see this conversation."),
}


def _say(exc: Problem) -> str:
    return PROBLEMS.get(exc.code, lambda: _("Something went wrong. Please try again."))()


# --------------------------------------------------------------------------- members


@member_pages.get("")
@member_page("message.read")
def inbox():
    page = announcements.inbox(g.principal, page_arg(), 20)
    threads = convs.member_list(g.principal, 1, 50).items
    member_notices = notices.member_notices(g.principal.member_id, 1, 20).items
    html = render_template("messaging/inbox.html", page=page, threads=threads,
                           notices=member_notices, text_of=notices.text_of,
                           rt=realtime.page_settings(g.principal))  # fmt: skip
    if any(n.read_at is None for n in member_notices):  # shown now: read
        notices.mark_all_read(g.principal.member_id)
    return html


@member_pages.route("/preferences", methods=["GET", "POST"])
@member_page("notice.own")
def preferences():
    member_id = g.principal.member_id
    if request.method == "POST":
        notices.set_preferences(member_id, [
            {"category": c, "inbox": request.form.get(f"{c}-inbox") == "1",
             "outbound": request.form.get(f"{c}-outbound") == "1"}
            for c in notices.CATEGORIES
        ])  # fmt: skip
        flash(_("Your choices are saved."), "success")
        return redirect(url_for("messaging_pages.preferences"))
    return render_template("messaging/preferences.html", prefs=notices.preferences(member_id))


@member_pages.post("/remind/<string:kind>/<int:subject_id>")
@member_page("notice.own")
def remind(kind: str, subject_id: int):
    """The "remind me" button of a sale page (on) and its undo (``off``)."""
    from marketplace import notices as shared
    from marketplace.redirects import safe_path

    if kind not in shared.subject_kinds():
        abort(404)
    back = safe_path(request.form.get("next"), url_for("messaging_pages.inbox"))
    if request.form.get("action") == "off":
        reminders.forget(g.principal.member_id, kind, subject_id)
        flash(_("No reminder, then."), "success")
        return redirect(back)
    try:
        reminders.remind_me(g.principal.member_id, kind, subject_id)
        flash(_("We will remind you 10 minutes before it opens."), "success")
    except Problem as exc:
        if exc.status == 404:
            abort(404)
        flash(_("This sale is already open, over or cancelled."), "error")
    return redirect(back)


@member_pages.get("/a/<int:announcement_id>")
@member_page("message.read")
def announcement(announcement_id: int):
    item = announcements.open_for_member(g.principal, announcement_id)
    return render_template("messaging/announcement.html", a=item, link=_link_url(item))


@member_pages.get("/a/<int:announcement_id>/cover")
@member_page("message.read")
def member_cover(announcement_id: int):
    return _cover(announcements.open_for_member(g.principal, announcement_id))


def _link_url(a) -> str | None:
    endpoints = {
        "sale": ("flashsale_pages.sale", "campaign_id"),
        "offer": ("catalogue_pages.offer", "offer_id"),
        "groupbuy": ("catalogue_pages.groupbuy", "deal_id"),
    }
    if not a.link_kind or a.link_kind not in endpoints:
        return None
    endpoint, arg = endpoints[a.link_kind]
    return url_for(endpoint, **{arg: a.link_id})


def _cover(a):
    if not a.cover_type:
        abort(404)
    return Response(a.cover, mimetype=a.cover_type, headers={
        "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})  # fmt: skip


# --------------------------------------------------------------------------- admins


def _audience_choices(scope):
    nodes = orgs.tree.get_org(scope.id) if scope is not None else None
    from marketplace.orgs.routes import visible_orgs

    return visible_orgs(nodes)


@admin_pages.get("")
@admin_page("announcement.manage")
def admin_list():
    page = announcements.admin_list(g.principal, page_arg(), 20)
    return render_template("messaging/admin/list.html", page=page, now=utcnow())


def _form_data(form) -> dict:
    audience = form.get("audience", "")
    data = {"title": form.get("title", ""), "body": form.get("body", ""),
            "activated_only": form.get("activated_only") == "y"}  # fmt: skip
    if audience.startswith("org:"):
        data |= {"audience": "org", "audience_org_id": form_id(audience[4:])}
    elif audience.startswith("region:"):
        data |= {"audience": "region", "audience_region": audience[7:]}
    elif audience == "all":
        data["audience"] = "all"
    when = form.get("publish_at", "").strip()
    if when:
        try:
            local = datetime.strptime(when, "%Y-%m-%dT%H:%M").replace(tzinfo=SHANGHAI)
        except ValueError:
            raise Problem("Bad time", status=422, code="validation_error") from None
        data["publish_at"] = local.astimezone(UTC)
    kind, link_id = form.get("link_kind", ""), form.get("link_id", "").strip()
    if kind and form_id(link_id):
        data |= {"link_kind": kind, "link_id": form_id(link_id)}
    elif kind or link_id:
        raise Problem("Bad link", status=422, code="validation_error")
    return data


@admin_pages.route("/new", methods=["GET", "POST"])
@admin_page("announcement.manage")
def admin_new():
    scope = orgs.scope_of(g.principal)
    status = 200
    if request.method == "POST":
        try:
            upload = request.files.get("cover")
            cover = upload.read(announcements.COVER_MAX_BYTES + 1) if upload else None
            a = announcements.create(g.principal, _form_data(request.form), cover or None)
            flash(_("Announcement saved."), "success")
            return redirect(url_for("messaging_admin_pages.admin_detail", announcement_id=a.id))
        except Problem as exc:
            flash(_say(exc), "error")
            status = exc.status
    return render_template("messaging/admin/new.html", nodes=_audience_choices(scope),
                           city=scope is None, form=request.form), status  # fmt: skip


@admin_pages.get("/<int:announcement_id>")
@admin_page("announcement.manage")
def admin_detail(announcement_id: int):
    a = announcements.get_for_admin(g.principal, announcement_id)
    stats = announcements.read_stats(g.principal, announcement_id)
    return render_template("messaging/admin/detail.html", a=a, stats=stats, now=utcnow())


@admin_pages.get("/<int:announcement_id>/reads.svg")
@admin_page("announcement.manage")
def admin_reads_chart(announcement_id: int):
    stats = announcements.read_stats(g.principal, announcement_id)
    rows = stats["by_org"]
    chart = pygal.HorizontalBar(
        style=STYLE, width=640, height=max(200, 60 + 28 * len(rows)), js=[],
        title=_("Read, per branch"), no_data_text=_("No members in the audience"),
        truncate_label=-1, print_values=True, legend_at_bottom=True,
    )  # fmt: skip
    chart.x_labels = [r["name"] for r in rows]
    chart.add(_("Audience"), [r["audience"] for r in rows])
    chart.add(_("Read"), [r["read"] for r in rows])
    # pygal inlines a config <script> even without JS files; an <img> would ignore it anyway.
    svg = re.sub(rb"<script.*?</script>", b"", chart.render(), flags=re.S)
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


@admin_pages.get("/<int:announcement_id>/cover")
@admin_page("announcement.manage")
def admin_cover(announcement_id: int):
    return _cover(announcements.get_for_admin(g.principal, announcement_id))


@admin_pages.post("/<int:announcement_id>/withdraw")
@admin_page("announcement.manage")
def admin_withdraw(announcement_id: int):
    try:
        announcements.withdraw(g.principal, announcement_id)
        flash(_("Announcement withdrawn."), "success")
    except Problem as exc:
        if exc.status == 404:
            raise
        flash(_say(exc), "error")
    return redirect(url_for("messaging_admin_pages.admin_detail", announcement_id=announcement_id))


# --------------------------------------------------------------------------- conversations

conv_pages = Blueprint(
    "messaging_conv_pages", __name__, url_prefix="/admin/conversations",
    template_folder="templates",
)  # fmt: skip


def _form_message():
    photos = [f.read(convs.PHOTO_MAX_BYTES + 1) for f in request.files.getlist("photos") if f]
    return request.form.get("body", ""), [p for p in photos if p]


@member_pages.route("/c/new", methods=["GET", "POST"])
@member_page("conversation.own")
def conversation_new():
    status = 200
    if request.method == "POST":
        try:
            body, photos = _form_message()
            conv = convs.open_conversation(g.principal, body, photos)
            return redirect(url_for("messaging_pages.conversation", conversation_id=conv.id))
        except Problem as exc:
            flash(_say(exc), "error")
            status = exc.status
    return render_template("messaging/conversation_new.html", form=request.form), status


@member_pages.route("/c/<int:conversation_id>", methods=["GET", "POST"])
@member_page("conversation.own")
def conversation(conversation_id: int):
    conv = convs.member_conversation(g.principal, conversation_id)
    status = 200
    if request.method == "POST":
        try:
            body, photos = _form_message()
            convs.member_send(g.principal, conv.id, body, photos)
            return redirect(url_for("messaging_pages.conversation", conversation_id=conv.id))
        except Problem as exc:
            flash(_say(exc), "error")
            status = exc.status
    convs.seen_by_member(conv)
    msgs = convs.messages(conv)
    return render_template("messaging/conversation.html", conv=conv, msgs=msgs,
                           photos=convs.photos_of([m.id for m in msgs]),
                           rt=realtime.page_settings(g.principal)), status  # fmt: skip


@member_pages.get("/photos/<int:photo_id>")
@member_page("conversation.own")
def member_photo(photo_id: int):
    photo = convs.photo_for_member(g.principal, photo_id)
    return Response(photo.data, mimetype=photo.content_type, headers={
        "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})  # fmt: skip


@conv_pages.get("", endpoint="inbox")
@admin_page("conversation.handle")
def staff_inbox():
    status = request.args.get("status", "open")
    status = status if status in ("open", "closed", "all") else "open"
    mine = request.args.get("mine") == "1"
    page = convs.staff_inbox(g.principal, status, mine, page_arg(), 30)
    return render_template("messaging/admin/conversations.html", page=page, status=status,
                           mine=mine, now=utcnow(),
                           rt=realtime.page_settings(g.principal))  # fmt: skip


@conv_pages.get("/<int:conversation_id>")
@admin_page("conversation.handle")
def thread(conversation_id: int):
    conv = convs.staff_conversation(g.principal, conversation_id)
    convs.seen_by_staff(conv)
    msgs = convs.messages(conv)
    from marketplace.extensions import db
    from marketplace.members.models import Member

    return render_template(
        "messaging/admin/conversation.html", conv=conv, msgs=msgs,
        photos=convs.photos_of([m.id for m in msgs]), member=db.session.get(Member, conv.member_id),
        colleagues=convs.colleagues(conv), saved=convs.saved_replies(g.principal),
        rt=realtime.page_settings(g.principal),
    )  # fmt: skip


def _back(conversation_id: int):
    return redirect(url_for("messaging_conv_pages.thread", conversation_id=conversation_id))


def _act(conversation_id: int, done: str, change):
    try:
        change()
        flash(done, "success")
    except Problem as exc:
        if exc.status == 404:
            raise
        flash(_say(exc), "error")
    return _back(conversation_id)


@conv_pages.post("/<int:conversation_id>/reply")
@admin_page("conversation.handle")
def reply(conversation_id: int):
    saved = form_id(request.form.get("saved_reply_id"))
    return _act(conversation_id, _("Reply sent."), lambda: convs.reply(
        g.principal, conversation_id, request.form.get("body", ""), saved))  # fmt: skip


@conv_pages.post("/<int:conversation_id>/assign")
@admin_page("conversation.handle")
def assign(conversation_id: int):
    account_id = form_id(request.form.get("account_id"))
    return _act(conversation_id, _("Assigned."), lambda: convs.assign(
        g.principal, conversation_id, account_id))  # fmt: skip


@conv_pages.post("/<int:conversation_id>/close")
@admin_page("conversation.handle")
def close(conversation_id: int):
    return _act(conversation_id, _("Conversation closed."),
                lambda: convs.close(g.principal, conversation_id))  # fmt: skip


@conv_pages.get("/photos/<int:photo_id>")
@admin_page("conversation.handle")
def staff_photo(photo_id: int):
    photo = convs.photo_for_staff(g.principal, photo_id)
    return Response(photo.data, mimetype=photo.content_type, headers={
        "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})  # fmt: skip


@conv_pages.route("/saved-replies", methods=["GET", "POST"])
@admin_page("conversation.handle")
def saved_replies():
    status = 200
    if request.method == "POST":
        try:
            convs.add_saved_reply(g.principal, request.form.get("title", ""),
                                  request.form.get("body", ""))  # fmt: skip
            flash(_("Saved."), "success")
            return redirect(url_for("messaging_conv_pages.saved_replies"))
        except Problem as exc:
            flash(_say(exc), "error")
            status = exc.status
    return render_template("messaging/admin/saved_replies.html",
                           saved=convs.saved_replies(g.principal)), status  # fmt: skip


@conv_pages.post("/saved-replies/<int:reply_id>/delete")
@admin_page("conversation.handle")
def saved_reply_delete(reply_id: int):
    convs.delete_saved_reply(g.principal, reply_id)
    flash(_("Deleted."), "success")
    return redirect(url_for("messaging_conv_pages.saved_replies"))
