"""Demo union services: one service of each kind, a budgeted fund, seats, a job listing, and the
demo member's own application, cover incident and booking; a second member's approved
application sits in a payout batch, so the admin's fund, chart and batch pages have content.

Everything goes through the package's functions (``catalog.create``, ``applications.apply`` and
``decide``, ``seats.create_slot`` and ``book``, ``covers.report``, ``payouts.export``), so
audit events, fund commitments and stock-engine pools are what real use leaves behind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

from marketplace.auth.models import Account
from marketplace.auth.tokens import principal_for
from marketplace.extensions import db
from marketplace.images import gradient_png
from marketplace.members.models import Member
from marketplace.models import utcnow

MEMBER_CARD = "6222000000000017"  # the demo member of marketplace.members.demo
OTHER_CARD = "6222000000000025"
# A minimal PDF: enough for the document checks, which look at the bytes.
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
AID = {
    "kind": "aid", "title": "困难职工医疗互助", "title_en": "Medical aid for members in hardship",
    "description": "会员住院治疗，医保报销后个人自付部分给予互助金。",
    "max_amount_cents": 500_000, "rules": {"active_card": True},
    "fields": [{"name": "hospital", "label": "就诊医院", "required": True}],
    "prepare": ["住院发票", "出院小结"],
}  # fmt: skip
COVER = {
    "kind": "cover", "title": "会员免费意外保障", "title_en": "Free accident cover",
    "description": "激活工会卡即享一年意外伤害保障，出险后在线报案。",
    "rules": {"active_card": True}, "prepare": ["医院诊断证明"],
}  # fmt: skip
COURSE = {
    "kind": "course", "title": "电工技能提升培训", "title_en": "Electrician skills course",
    "description": "市总工会职工学校开设，结业颁发培训证书，免费参加。",
    "rules": {"active_card": True},
}  # fmt: skip
APPOINTMENT = {
    "kind": "appointment", "title": "职工法律援助咨询", "title_en": "Legal aid consultation",
    "description": "劳动合同、工资、工伤等问题，一对一咨询工会律师。",
    "rules": {"active_card": True},
}  # fmt: skip
JOB = {
    "kind": "job", "title": "职工就业推荐", "title_en": "Job referral",
    "description": "工会联系的用人单位招聘信息，表达意向后工会帮您推荐。",
    "rules": {"active_card": True},
}  # fmt: skip


def _principal(username: str):
    account = db.session.scalars(db.select(Account).where(Account.username == username)).one()
    return principal_for(account)


def load_services() -> Iterator[str]:
    from . import applications, catalog, covers, jobboard, payouts, seats

    admin = _principal("admin")
    member, other = _principal(MEMBER_CARD), _principal(OTHER_CARD)
    now = utcnow()
    fund = catalog.create_fund(admin, {"name": "职工医疗互助金", "year": now.year,
                                       "budget_cents": 50_000_000,
                                       "note": "市总工会年度预算"})  # fmt: skip
    aid = catalog.create(admin, AID | {"fund_id": fund.id})
    catalog.create(admin, COVER)
    course = catalog.create(admin, COURSE)
    appointment = catalog.create(admin, APPOINTMENT)
    catalog.create(admin, JOB)
    yield "union services: medical aid (fund ¥500,000), free cover, a course, legal aid, jobs"

    # The demo member's application waits for the branch check; another member's is approved
    # and exported for payout.
    applications.apply(member, aid.id, amount_cents=120_000, answers={"hospital": "河北省人民医院"},
                       files=[PDF])  # fmt: skip
    paid = applications.apply(other, aid.id, amount_cents=80_000,
                              answers={"hospital": "石家庄市第一医院"}, files=[PDF])  # fmt: skip
    applications.decide(admin, paid.id, "pass")
    applications.decide(admin, paid.id, "approve")
    payouts.export(admin, fund.id)
    yield f"applications: card {MEMBER_CARD} applied for medical aid; one approved, in a payout"

    covers.ensure_enrolled(db.session.get(Member, member.member_id))
    enrolment = covers.mine(member)[0]
    today = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()
    covers.report(member, enrolment.id, occurred_on=today.isoformat(), kind="意外摔伤",
                  description="上班途中在公交站台滑倒，右手腕扭伤，已到医院拍片。",
                  files=[gradient_png(120, 160, (240, 240, 240), (180, 190, 200))])  # fmt: skip
    yield f"cover: card {MEMBER_CARD} is covered and reported an incident"

    week = now + timedelta(days=7)
    course_slot = seats.create_slot(admin, course.id, {
        "label": "第一期（周六全天）", "location": "市总工会职工学校 201 教室",
        "starts_at": week, "ends_at": week + timedelta(hours=7),
        "booking_opens_at": now - timedelta(hours=1), "cancel_deadline": week - timedelta(days=1),
        "capacity": 30, "hold_seconds": 300})  # fmt: skip
    soon = now + timedelta(days=3)
    seats.create_slot(admin, appointment.id, {
        "label": "周三下午咨询", "location": "市总工会法律服务中心",
        "starts_at": soon, "ends_at": soon + timedelta(minutes=30),
        "booking_opens_at": now - timedelta(hours=1), "cancel_deadline": soon - timedelta(hours=2),
        "capacity": 4, "hold_seconds": 300})  # fmt: skip
    booking = seats.book(member, course_slot.id)
    seats.confirm(member, booking.id)
    yield f"seats: a course (30 seats, card {MEMBER_CARD} has one) and a legal-aid slot (4)"

    listing = jobboard.create(admin, {
        "employer": "石家庄北方机械有限公司", "position": "数控车床操作工", "district": "130102",
        "salary_min": 5000, "salary_max": 7500, "contact": "人事部 0311-86000000",
        "description": "五险一金，包工作餐，持电工证优先。", "status": "open"})  # fmt: skip
    jobboard.express(member, listing.id)
    yield "jobs: 1 listing (card 6222000000000017 is interested)"
