"""Payout batches: approved applications of a fund exported once as a CSV for the bank, then
marked paid when the batch is confirmed.

An application joins a batch through one conditional UPDATE (``payout_batch_id IS NULL`` in its
WHERE), so two exports at once cannot put it in two batches; a confirmed batch cannot be
confirmed again (409 ``batch_confirmed``).
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select, update

from marketplace.errors import Conflict, NotFound
from marketplace.extensions import db
from marketplace.members.models import Member
from marketplace.models import record_audit, utcnow
from marketplace.permissions import Actor

from . import funds
from .models import Application, PayoutBatch, Step
from .notify import notify

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ["card_no", "name", "amount_yuan", "reference"]


def _cell(value) -> str:
    # A leading = + - @ would make Excel evaluate the cell (CSV injection): quote it.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def reference(batch_id: int, application_id: int) -> str:
    return f"SH{batch_id:06d}-{application_id:08d}"


def export(principal, fund_id: int) -> PayoutBatch:
    """A new batch of every approved, not yet exported application of the fund (409
    ``nothing_to_export`` when there is none)."""
    fund = funds.get(fund_id)
    batch = PayoutBatch(fund_id=fund.id, status="exported", created_by=principal.account_id)
    db.session.add(batch)
    db.session.flush()
    taken = db.session.execute(
        update(Application)
        .where(Application.fund_id == fund.id, Application.status == "approved",
               Application.payout_batch_id.is_(None))
        .values(payout_batch_id=batch.id)
        .execution_options(synchronize_session=False)
    ).rowcount  # fmt: skip
    if not taken:
        db.session.rollback()
        raise Conflict("No approved application is waiting for payout.", code="nothing_to_export")
    count, total = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Application.approved_cents), 0))
        .where(Application.payout_batch_id == batch.id)
    ).one()  # fmt: skip
    batch.count, batch.total_cents = count, int(total)
    record_audit(
        "payout.export",
        "payout_batch",
        batch.id,
        actor=Actor(principal),
        data={"fund_id": fund.id, "count": count, "total_cents": int(total)},
    )
    db.session.commit()
    return batch


def get(batch_id: int) -> PayoutBatch:
    batch = db.session.get(PayoutBatch, batch_id)
    if batch is None:
        raise NotFound("No such payout batch.")
    return batch


def for_fund(fund_id: int) -> list[PayoutBatch]:
    return list(db.session.scalars(
        select(PayoutBatch).where(PayoutBatch.fund_id == fund_id)
        .order_by(PayoutBatch.id.desc())))  # fmt: skip


def csv_text(principal, batch: PayoutBatch) -> str:
    """The batch as the bank takes it: card number, name, amount (yuan), reference."""
    rows = db.session.execute(
        select(Application.id, Application.approved_cents, Member)
        .join(Member, Member.id == Application.member_id)
        .where(Application.payout_batch_id == batch.id).order_by(Application.id)
    ).all()  # fmt: skip
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for app_id, cents, member in rows:
        card = member.current_card
        writer.writerow(
            [
                _cell(v)
                for v in (
                    card.card_no if card else "",
                    member.name,
                    f"{cents / 100:.2f}",
                    reference(batch.id, app_id),
                )
            ]
        )
    record_audit("payout.download", "payout_batch", batch.id, actor=Actor(principal),
                 data={"count": len(rows)})  # fmt: skip
    db.session.commit()
    return buffer.getvalue()


def confirm(principal, batch_id: int) -> PayoutBatch:
    """The bank paid the batch: its applications are paid, the fund's paid amount grows."""
    batch = get(batch_id)
    now = utcnow()
    moved = db.session.execute(
        update(PayoutBatch).where(PayoutBatch.id == batch.id, PayoutBatch.status == "exported")
        .values(status="confirmed", confirmed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # fmt: skip
    if moved != 1:
        db.session.rollback()
        raise Conflict("This batch was confirmed already.", code="batch_confirmed")
    members = db.session.execute(
        select(Application.id, Application.member_id)
        .where(Application.payout_batch_id == batch.id)
    ).all()  # fmt: skip
    db.session.execute(
        update(Application).where(Application.payout_batch_id == batch.id,
                                  Application.status == "approved")
        .values(status="paid", paid_at=now).execution_options(synchronize_session=False)
    )  # fmt: skip
    db.session.add_all(Step(application_id=app_id, action="paid", status="paid",
                            actor_id=principal.account_id, actor_role=principal.role, at=now)
                       for app_id, _member in members)  # fmt: skip
    funds.pay(batch.fund_id, batch.total_cents)
    record_audit("payout.confirm", "payout_batch", batch.id, actor=Actor(principal),
                 data={"count": batch.count, "total_cents": batch.total_cents})  # fmt: skip
    db.session.commit()
    db.session.refresh(batch)
    for app_id, member_id in members:
        notify(member_id, "application.paid", {"application_id": app_id, "status": "paid"})
    return batch
