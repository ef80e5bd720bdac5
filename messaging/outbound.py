"""Outbound channels (issue #16 item 6): telling a member outside the app.

One interface, :class:`Channel` (``send(Outbound) -> None``, raising :class:`NotDelivered`),
chosen by ``OUTBOUND_BACKEND``:

- ``file`` (the default in development): one JSON line per message appended to
  ``<instance>/outbound/messages.jsonl`` - what would have been sent, for developers and tests;
- ``smtp``: e-mail through ``SMTP_HOST``:``SMTP_PORT`` (``SMTP_STARTTLS``, ``SMTP_USER``/
  ``SMTP_PASSWORD`` when set) from ``SMTP_FROM``. Members have no e-mail address in the roster,
  only a phone, so the recipient is ``SMTP_RCPT`` with ``{phone}`` filled in: an operator's
  e-mail-to-SMS gateway (``{phone}@sms.example.cn``) or a mailbox for a trial;
- ``sms`` and ``wechat``: adapters for an SMS provider and WeChat template messages. They are
  **not implemented**: both need a contract with the provider (an SMS signature and template
  approved by the carrier; a WeChat official account, its template ids and the members' openids,
  which the roster does not have). They raise :class:`NotConfigured` on every send, so nothing
  pretends to have reached a phone;
- ``none``: outbound copies are switched off.

Only members who switched a category's outbound copy on get one (preferences); the text is the
same plain text as the inbox, never HTML.
"""

from __future__ import annotations

import json
import smtplib
import threading
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from pathlib import Path

from flask import current_app


@dataclass(frozen=True)
class Outbound:
    member_id: int
    phone: str
    subject: str
    text: str
    kind: str


class NotDelivered(Exception):
    """The channel could not take the message (the job retries or records it)."""


class NotConfigured(NotDelivered):
    """The channel is not set up (or not implemented): retrying will not help."""


class Channel:
    name = "base"

    def send(self, message: Outbound) -> None:
        raise NotImplementedError


class FileChannel(Channel):
    """Development: append what would be sent to a file under the instance folder."""

    name = "file"
    _lock = threading.Lock()

    def __init__(self, path: Path):
        self.path = path

    def send(self, message: Outbound) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"channel": self.name, **asdict(message)}, ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


class SmtpChannel(Channel):
    name = "smtp"

    def __init__(self, host: str, port: int, sender: str, rcpt: str, starttls: bool = False,
                 user: str | None = None, password: str | None = None,
                 timeout: float = 10.0):  # fmt: skip
        self.host, self.port, self.sender, self.rcpt = host, port, sender, rcpt
        self.starttls, self.user, self.password, self.timeout = starttls, user, password, timeout

    def send(self, message: Outbound) -> None:
        if "{phone}" in self.rcpt and not message.phone:
            raise NotConfigured("the member has no phone number for the gateway address")
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = self.rcpt.format(phone=message.phone)
        mail["Subject"] = message.subject
        mail["X-Shihui-Kind"] = message.kind
        mail.set_content(message.text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotDelivered(f"SMTP {self.host}:{self.port}: {exc}") from exc


class SmsChannel(Channel):
    """An SMS provider (Aliyun, Tencent Cloud ...): needs an approved signature and template."""

    name = "sms"

    def send(self, message: Outbound) -> None:
        raise NotConfigured(
            "SMS is not implemented: it needs a provider contract, an approved signature and "
            "template (docs/messages.md, 'Outbound channels')"
        )


class WeChatChannel(Channel):
    """WeChat template messages: needs an official account, template ids and members' openids."""

    name = "wechat"

    def send(self, message: Outbound) -> None:
        raise NotConfigured(
            "WeChat is not implemented: it needs an official account, approved templates and "
            "each member's openid (docs/messages.md, 'Outbound channels')"
        )


class NoChannel(Channel):
    name = "none"

    def send(self, message: Outbound) -> None:
        return None


def channel_from_config(config) -> Channel:
    backend = (config.get("OUTBOUND_BACKEND") or "file").lower()
    if backend == "file":
        return FileChannel(Path(config["INSTANCE_DIR"]) / "outbound" / "messages.jsonl")
    if backend == "smtp":
        return SmtpChannel(
            config.get("SMTP_HOST", "127.0.0.1"), int(config.get("SMTP_PORT", 25)),
            config.get("SMTP_FROM", "shihui@localhost"),
            config.get("SMTP_RCPT", "{phone}@sms.invalid"),
            starttls=str(config.get("SMTP_STARTTLS", "")).lower() in {"1", "true", "yes"},
            user=config.get("SMTP_USER"), password=config.get("SMTP_PASSWORD"),
        )  # fmt: skip
    if backend == "sms":
        return SmsChannel()
    if backend == "wechat":
        return WeChatChannel()
    if backend == "none":
        return NoChannel()
    raise ValueError(f"OUTBOUND_BACKEND: unknown backend {backend!r}")


def channel() -> Channel:
    return channel_from_config(current_app.config)
