"""The demo loader creates a browsable catalogue that follows the visibility rule."""

from . import factories as f


def test_demo_catalogue(app_ctx, api):
    from catalogue.demo import load_catalogue

    lines = list(load_catalogue())
    assert any("group-buys" in line for line in lines)
    home, beijing = f.member(f.HOME)[1], f.member(f.BEIJING)[1]
    assert api.get("/api/v1/offers", home).get_json()["total"] == 2
    titles = [o["title"] for o in api.get("/api/v1/offers", beijing).get_json()["items"]]
    assert titles == ["京津冀工会会员门票半价"]
    assert api.get("/api/v1/groupbuys", home).get_json()["total"] == 2
    assert api.get("/api/v1/merchants?q=铜锅", home).get_json()["total"] == 1
