"""Job referral: listings published by admins, browsed and filtered by members, "interested"
said once (a unique pair, also under concurrent presses), and who is interested."""

from __future__ import annotations

import re
import threading

from sqlalchemy import func, select

from marketplace.extensions import db
from unionservices.models import JobInterest

from .conftest import bearer, make_member

JOB = {"employer": "石家庄某机械厂", "position": "数控车工", "district": "130102",
       "salary_min": 5000, "salary_max": 8000, "contact": "0311-1234567 王科长",
       "description": "五险一金"}  # fmt: skip


def publish(client, admin, **kw):
    resp = client.post("/api/v1/admin/jobs", headers=bearer(admin), json=JOB | kw)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_members_filter_listings_and_say_interested_once(client, admin):
    lathe = publish(client, admin)
    welder = publish(client, admin, position="焊工", district="130104", salary_max=6000)
    publish(client, admin, position="保安", district="110105", status="closed")
    _m, token, _c = make_member()

    def ids(query=""):
        resp = client.get(f"/api/v1/jobs{query}", headers=bearer(token))
        assert resp.status_code == 200, resp.get_json()
        return [j["id"] for j in resp.get_json()]

    assert ids() == [welder["id"], lathe["id"]]  # the closed one is not listed
    assert ids("?district=130104") == [welder["id"]]
    assert ids("?district=1301") == [welder["id"], lathe["id"]]
    assert ids("?q=车工") == [lathe["id"]]
    assert ids("?salary_at_least=7000") == [lathe["id"]]
    assert client.get("/api/v1/jobs?district=abc", headers=bearer(token)).status_code == 422
    url = f"/api/v1/jobs/{lathe['id']}/interest"
    assert client.post(url, headers=bearer(token)).status_code == 201
    assert client.post(url, headers=bearer(token)).status_code == 200
    listed = client.get("/api/v1/jobs", headers=bearer(token)).get_json()
    assert {j["id"]: j["interested"] for j in listed} == {lathe["id"]: True, welder["id"]: False}
    people = client.get(f"/api/v1/admin/jobs/{lathe['id']}/interested", headers=bearer(admin))
    assert [p["branch"] for p in people.get_json()] == ["长安区总工会"]
    counts = {j["id"]: j["interested_count"] for j in
              client.get("/api/v1/admin/jobs", headers=bearer(admin)).get_json()}  # fmt: skip
    assert counts[lathe["id"]] == 1 and counts[welder["id"]] == 0
    assert client.delete(url, headers=bearer(token)).status_code == 204
    assert db.session.scalar(select(func.count()).select_from(JobInterest)) == 0


def test_bad_listings_are_refused(client, admin):
    bad = client.post("/api/v1/admin/jobs", headers=bearer(admin),
                      json=JOB | {"salary_min": 9000, "salary_max": 8000})  # fmt: skip
    assert bad.status_code == 422
    assert client.post("/api/v1/admin/jobs", headers=bearer(admin),
                       json=JOB | {"district": "13"}).status_code == 422  # fmt: skip
    made = publish(client, admin)
    closed = client.patch(f"/api/v1/admin/jobs/{made['id']}", headers=bearer(admin),
                          json={"status": "closed"})  # fmt: skip
    assert closed.get_json()["status"] == "closed" and closed.get_json()["position"] == "数控车工"
    _m, token, _c = make_member()
    assert client.post(f"/api/v1/jobs/{made['id']}/interest",
                       headers=bearer(token)).status_code == 404  # fmt: skip


def test_concurrent_interest_is_one_row(app, client, admin):
    listing = publish(client, admin)
    _m, token, _c = make_member()
    barrier = threading.Barrier(8)
    codes = []

    def press():
        with app.test_client() as c:
            barrier.wait(timeout=10)
            codes.append(c.post(f"/api/v1/jobs/{listing['id']}/interest",
                                headers=bearer(token)).status_code)  # fmt: skip

    threads = [threading.Thread(target=press) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes)[-1] == 201 and codes.count(201) == 1 and set(codes) <= {200, 201}
    assert db.session.scalar(select(func.count()).select_from(JobInterest)) == 1


def test_jobs_through_the_pages(client, admin):
    from .test_pages import get, login, post

    login(client, "cityadmin")
    made = post(client, "/admin/jobs", "/admin/jobs", {
        "employer": "某物流公司", "position": "仓管员", "district": "130102",
        "salary_min": "4000", "salary_max": "5500", "contact": "张经理"})  # fmt: skip
    assert made.status_code == 302
    bad = post(client, "/admin/jobs", "/admin/jobs", {"employer": "x", "district": "1"})
    assert bad.status_code == 422
    _m, _t, card = make_member()
    login(client, card)
    page = get(client, "/m/services/jobs?q=仓管").get_data(as_text=True)
    assert "仓管员" in page and 'data-testid="interest"' in page
    job_id = int(re.search(r'data-testid="job-(\d+)"', page).group(1))
    post(client, "/m/services/jobs", f"/m/services/jobs/{job_id}/interest", {})
    assert 'data-testid="interested"' in get(client, "/m/services/jobs").get_data(as_text=True)
    login(client, "cityadmin")
    detail = get(client, f"/admin/jobs/{job_id}").get_data(as_text=True)
    assert "长安区总工会" in detail
