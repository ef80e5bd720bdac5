from shihui import create_app


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}


def test_readyz_without_a_drainer_is_degraded_not_down(client):
    resp = client.get("/readyz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "degraded"
    assert body["degraded"] == ["drainer"]
    assert body["checks"] == {"database": "ok", "redis": "ok", "drainer": "down: no heartbeat"}


def test_readyz_reads_the_drainer_heartbeat(app, client):
    from marketplace.heartbeats import beat

    with app.app_context():
        beat("drainer", 5, state="ok", lag=7, pid=1, consumer="t")
    body = client.get("/readyz").get_json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "redis": "ok", "drainer": "ok"}
    assert body["outbox_lag"] == 7
    with app.app_context():
        beat("drainer", 5, state="database unavailable", pid=1, consumer="t")
    body = client.get("/readyz").get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["drainer"] == "waiting: database unavailable"


def test_readyz_names_redis_when_down(app_config, _schema):
    from inventory.server import free_port

    app = create_app(dict(app_config, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"))
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["code"] == "not_ready"
    assert body["down"] == ["redis"]
    assert resp.headers["Retry-After"] == "2"


def test_readyz_names_database_when_down(app_config, tmp_path):
    url = f"sqlite:///{tmp_path}/missing-dir/x/../../nope/db.sqlite"
    app = create_app(
        dict(app_config, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none")
    )
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["down"] == ["database"], url


def test_metrics_in_prometheus_format(client):
    client.get("/healthz")
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.mimetype.startswith("text/plain")
    text = resp.get_data(as_text=True)
    assert 'shihui_http_requests_total{endpoint="/healthz",method="GET",status="200"}' in text
    assert "shihui_http_request_duration_seconds_bucket" in text
    assert 'shihui_rq_queue_depth{queue="default"} 0.0' in text


def test_landing_page_links_everything(client):
    resp = client.get("/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    for href in ("/m/", "/merchant/", "/admin/"):
        assert f'href="{href}"' in html
    assert "/api/docs" not in html  # members are not told about the API document (issue #18)
    assert "会员" in html  # zh-CN is the default language


def test_language_switch_to_english(client):
    resp = client.get("/lang/en?next=/")
    assert resp.status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert "Member site" in html
    assert client.get("/lang/en?next=//evil.example").headers["Location"] == "/"
