"""Demo messages: an announcement from the city federation to everyone (with a cover picture) and
a conversation between the demo member and their branch, answered by the union.

Made through the package's own functions (``announcements.create``, ``open_conversation``,
``reply``), so audit events, counters and badges are what real use leaves behind."""

from __future__ import annotations

from collections.abc import Iterator

from marketplace.auth.models import Account
from marketplace.auth.tokens import principal_for
from marketplace.extensions import db
from marketplace.images import gradient_png

MEMBER_CARD = "6222000000000017"  # the demo member of marketplace.members.demo
ANNOUNCEMENT = {
    "title": "石家庄市总工会：工会会员服务平台上线",
    "body": (
        "各位会员：\n\n市总工会会员服务平台今天上线。激活工会卡后，您可以：\n\n"
        "- 在 **抢购** 领取合作商户的免费电影票、洗车券；\n"
        "- 在 **服务** 申请医疗互助、报名技能培训、预约法律援助；\n"
        "- 在 **消息** 直接联系您所在的基层工会。\n\n"
        "使用中遇到问题，请在“消息”中留言，我们会尽快答复。"
    ),
    "audience": "all",
}
QUESTION = "您好，请问工会卡激活后，免费洗车券在哪里领取？"
ANSWER = (
    "您好！在首页点“抢购”，选择“免费精洗一次”即可领取，领到的券在“券包”里，到店出示二维码核销。"
)


def _account(username: str) -> Account:
    return db.session.scalars(db.select(Account).where(Account.username == username)).one()


def load_messages() -> Iterator[str]:
    from . import announcements, conversations

    admin = principal_for(_account("admin"))
    cover = gradient_png(640, 240, (200, 16, 46), (255, 196, 0))  # union red to gold
    announcements.create(admin, ANNOUNCEMENT, cover=cover)
    yield "announcement: 1 from the city federation to every member, with a cover picture"
    member = principal_for(_account(MEMBER_CARD))
    photo = gradient_png(320, 240, (30, 90, 160), (220, 235, 250))
    conv = conversations.open_conversation(member, QUESTION, photos=[photo])
    conversations.reply(admin, conv.id, ANSWER)
    yield f"conversation: card {MEMBER_CARD} asked their branch (with a photo); the union replied"
