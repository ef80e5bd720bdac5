"""Free cover: activation enrols the member in both covers for the card year, incidents are
reported with documents and followed, admins export enrolments for the insurer."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.models import utcnow
from tests.members.helpers import activation_body, register
from unionservices import notify
from unionservices.models import CoverEnrolment, CoverIncident

from .conftest import PDF, bearer, create_service, make_member

ACCIDENT = {"kind": "cover", "title": "意外伤害保障", "title_en": "Accident cover",
            "description": "工作外意外伤害"}  # fmt: skip
FIRE = {"kind": "cover", "title": "家庭火灾保障", "title_en": "Household fire cover"}


def today() -> date:
    return utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()


def report(client, token, enrolment_id, occurred_on=None, docs=((PDF, "claim.pdf"),), **kw):
    data = {"occurred_on": (occurred_on or today()).isoformat(), "kind": "骨折",
            "description": "下楼梯摔倒", **kw,
            "documents": [(io.BytesIO(b), n) for b, n in docs]}  # fmt: skip
    return client.post(f"/api/v1/covers/{enrolment_id}/incidents", headers=bearer(token),
                       data=data, content_type="multipart/form-data")  # fmt: skip


def test_activation_enrols_the_member_in_both_covers_for_the_card_year(client, admin):
    accident = create_service(client, admin, ACCIDENT)
    fire = create_service(client, admin, FIRE)
    register(1)
    resp = client.post("/api/v1/members/activate", json=activation_body(1))
    assert resp.status_code == 200
    rows = db.session.scalars(select(CoverEnrolment).order_by(CoverEnrolment.service_id)).all()
    start = today()
    assert [(r.service_id, r.starts_on) for r in rows] == [(accident["id"], start),
                                                           (fire["id"], start)]  # fmt: skip
    assert rows[0].ends_on == start.replace(year=start.year + 1) - timedelta(days=1)
    token = resp.get_json()["access_token"]
    mine = client.get("/api/v1/covers", headers=bearer(token)).get_json()
    assert [c["title"] for c in mine] == ["意外伤害保障", "家庭火灾保障"]
    assert mine[0]["starts_on"] == start.isoformat()
    # Asking again enrols nothing twice.
    client.get("/api/v1/covers", headers=bearer(token))
    assert db.session.scalar(select(func.count()).select_from(CoverEnrolment)) == 2


def test_a_cover_added_later_enrols_active_members_when_they_look(client, admin):
    _m, token, _c = make_member()
    assert client.get("/api/v1/covers", headers=bearer(token)).get_json() == []
    create_service(client, admin, ACCIDENT)
    assert len(client.get("/api/v1/covers", headers=bearer(token)).get_json()) == 1
    _m, inactive, _c = make_member(active=False)
    assert client.get("/api/v1/covers", headers=bearer(inactive)).get_json() == []


def test_incidents_are_reported_checked_and_followed(client, admin):
    create_service(client, admin, ACCIDENT)
    member_id, token, _c = make_member()
    _m, other, _c = make_member()
    (cover,) = client.get("/api/v1/covers", headers=bearer(token)).get_json()
    heard = []
    stop = notify.listen(lambda m, kind, p: heard.append((m, kind)))
    try:
        future = report(client, token, cover["id"], occurred_on=today() + timedelta(days=1))
        assert future.status_code == 422
        forged = report(client, token, cover["id"], docs=((b"GIF89a fake", "x.pdf"),))
        assert forged.status_code == 415 and forged.get_json()["code"] == "document_type"
        assert report(client, other, cover["id"]).status_code == 404  # not their cover
        assert db.session.scalar(select(func.count()).select_from(CoverIncident)) == 0
        made = report(client, token, cover["id"])
        assert made.status_code == 201 and made.get_json()["status"] == "reported"
        incident = made.get_json()
        doc_url = incident["documents"][0]["url"]
        assert client.get(doc_url, headers=bearer(token)).data == PDF
        assert client.get(doc_url, headers=bearer(other)).status_code == 404
        assert client.get(doc_url, headers=bearer(admin)).status_code == 200
        status = f"/api/v1/cover-incidents/{incident['id']}/status"
        assert client.post(status, headers=bearer(admin), json={"status": "declined"}
                           ).status_code == 422  # fmt: skip
        assert client.post(status, headers=bearer(admin), json={"status": "reviewing"}
                           ).get_json()["status"] == "reviewing"  # fmt: skip
        assert client.post(status, headers=bearer(admin), json={"status": "settled"}
                           ).get_json()["status"] == "settled"  # fmt: skip
        closed = client.post(status, headers=bearer(admin), json={"status": "reviewing"})
        assert closed.status_code == 409 and closed.get_json()["code"] == "incident_closed"
    finally:
        stop()
    assert heard == [(member_id, "incident.reported"), (member_id, "incident.reviewing"),
                     (member_id, "incident.settled")]  # fmt: skip
    mine = client.get("/api/v1/cover-incidents", headers=bearer(token)).get_json()
    assert [i["status"] for i in mine] == ["settled"]


def test_insurer_export_lists_enrolments_excel_safe(client, admin):
    accident = create_service(client, admin, ACCIDENT)
    member_id, token, card_no = make_member()
    from marketplace.members.models import Member

    db.session.get(Member, member_id).name = "+SUM(A1)"
    db.session.commit()
    client.get("/api/v1/covers", headers=bearer(token))
    resp = client.get(f"/api/v1/admin/services/{accident['id']}/enrolments.csv",
                      headers=bearer(admin))  # fmt: skip
    text = resp.data.decode("utf-8")
    assert resp.mimetype == "text/csv" and text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["card_no", "name", "id_last4", "phone", "region", "cover", "starts_on",
                       "ends_on"]  # fmt: skip
    assert rows[1][:2] == [card_no, "'+SUM(A1)"] and rows[1][5] == "意外伤害保障"
    assert client.get(f"/api/v1/admin/services/{accident['id']}/enrolments.csv",
                      headers=bearer(token)).status_code == 403  # fmt: skip


def test_covers_through_the_pages(client, admin):
    from .test_pages import get, login, post

    create_service(client, admin, ACCIDENT)
    _m, _token, card = make_member()
    login(client, card)
    page = get(client, "/m/services/covers").get_data(as_text=True)
    assert "意外伤害保障" in page and today().isoformat() in page
    enrolment = db.session.scalars(select(CoverEnrolment)).one()
    sent = post(
        client,
        "/m/services/covers",
        f"/m/services/covers/{enrolment.id}/incidents",
        {
            "occurred_on": today().isoformat(),
            "kind": "烫伤",
            "description": "做饭时烫伤",
            "documents": (io.BytesIO(PDF), "a.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302
    bad = post(
        client,
        "/m/services/covers",
        f"/m/services/covers/{enrolment.id}/incidents",
        {"occurred_on": "2001-01-01", "kind": "x", "description": "y"},
    )
    assert bad.status_code == 422 and 'data-testid="form-errors"' in bad.get_data(as_text=True)
    incident = db.session.scalars(select(CoverIncident)).one()
    login(client, "cityadmin")
    admin_page = get(client, "/admin/covers").get_data(as_text=True)
    assert "做饭时烫伤" in admin_page
    post(client, "/admin/covers", f"/admin/covers/incidents/{incident.id}/status",
         {"status": "settled"})  # fmt: skip
    db.session.expire_all()
    assert db.session.get(CoverIncident, incident.id).status == "settled"
