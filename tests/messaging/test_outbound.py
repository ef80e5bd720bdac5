"""Outbound channels (issue #16 item 6): the development file backend, SMTP against a real aiosmtpd
server started here, SMS and WeChat refusing honestly; the outbound job sends a notice to members
who asked for copies, in plain text."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

from inventory.server import free_port
from marketplace import notices as shared
from messaging import jobs
from messaging.outbound import (
    FileChannel,
    NotConfigured,
    NotDelivered,
    Outbound,
    SmsChannel,
    SmtpChannel,
    WeChatChannel,
    channel_from_config,
)
from tests.flashsale.factories import bearer, make_members

MESSAGE = Outbound(7, "13800000007", "石惠", "<b>你的券</b> 已核销", "voucher.redeemed")


class Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def test_the_file_backend_writes_json_lines_under_the_instance_folder(tmp_path):
    chan = channel_from_config({"OUTBOUND_BACKEND": "file", "INSTANCE_DIR": str(tmp_path)})
    assert isinstance(chan, FileChannel)
    chan.send(MESSAGE)
    chan.send(MESSAGE)
    lines = (tmp_path / "outbound" / "messages.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0]) == {"channel": "file", "member_id": 7, "phone": "13800000007",
                                    "subject": "石惠", "text": "<b>你的券</b> 已核销",
                                    "kind": "voucher.redeemed"}  # fmt: skip


def test_smtp_delivers_to_a_real_server(smtp_server):
    controller, inbox = smtp_server
    chan = SmtpChannel("127.0.0.1", controller.port, "shihui@example.cn", "{phone}@sms.example.cn")
    chan.send(MESSAGE)
    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "shihui@example.cn"
    assert envelope.rcpt_tos == ["13800000007@sms.example.cn"]
    mail = message_from_bytes(envelope.content, policy=default_policy)
    assert mail["Subject"] == "石惠" and mail["X-Shihui-Kind"] == "voucher.redeemed"
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().strip() == "<b>你的券</b> 已核销"  # text, never HTML


def test_smtp_refused_or_unreachable_is_not_delivered():
    chan = SmtpChannel("127.0.0.1", free_port(), "a@example.cn", "{phone}@x.cn", timeout=2)
    with pytest.raises(NotDelivered):
        chan.send(MESSAGE)


@pytest.mark.parametrize("cls,backend", [(SmsChannel, "sms"), (WeChatChannel, "wechat")])
def test_sms_and_wechat_say_they_are_not_implemented(cls, backend, tmp_path):
    chan = channel_from_config({"OUTBOUND_BACKEND": backend, "INSTANCE_DIR": str(tmp_path)})
    assert isinstance(chan, cls)
    with pytest.raises(NotConfigured, match="not implemented"):
        chan.send(MESSAGE)


def test_unknown_backend_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown backend"):
        channel_from_config({"OUTBOUND_BACKEND": "pigeon", "INSTANCE_DIR": str(tmp_path)})


def test_members_who_asked_get_an_smtp_copy_of_a_notice(app, app_ctx, client, smtp_server):
    controller, inbox = smtp_server
    app.config.update(
        OUTBOUND_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=controller.port,
        SMTP_FROM="shihui@example.cn",
        SMTP_RCPT="{phone}@sms.example.cn",
    )
    (wants, token), (quiet, _t) = make_members(2)
    resp = client.put(
        "/api/v1/messages/preferences",
        headers=bearer(token),
        json={"preferences": [{"category": "services", "outbound": True}]},
    )
    assert resp.status_code == 200
    from marketplace.extensions import get_queue

    shared.notify_many([wants, quiet], "application.approved", {"status": "approved"})
    (job,) = get_queue("default").get_jobs()  # queued for the worker: only the member who asked
    assert job.args[0] == [wants]
    assert jobs.send_outbound(*job.args) == {"sent": 1, "failed": 0, "channel": "smtp"}
    (envelope,) = inbox.envelopes
    assert envelope.rcpt_tos == ["13800000000@sms.example.cn"]
    assert "approved" in message_from_bytes(envelope.content, policy=default_policy).get_content()
