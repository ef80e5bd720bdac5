"""The organisation pages in Chromium against gunicorn: the city admin adds a branch and its
admin; that branch admin logs in and sees its own subtree and members, never another branch."""

import re

from playwright.sync_api import expect

from marketplace.auth.services import create_account
from tests.orgs.helpers import PASSWORD, build_tree


def test_city_admin_adds_a_branch_admin_who_sees_only_its_branch(page, live_server, app):
    with app.app_context():
        w = build_tree(app.test_client(), activate=())
        create_account("root", PASSWORD, "admin")
    t = w["orgs"]
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server + "/admin/login")
    page.get_by_test_id("username").fill("root")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("submit").click()
    page.get_by_test_id("nav-orgs").click()
    expect(page.get_by_test_id(f"org-{t['A']}")).to_contain_text("一分会")
    page.get_by_test_id("ba-org").select_option(str(t["A"]))
    page.get_by_test_id("ba-username").fill("admin-a")
    page.get_by_test_id("ba-password").fill("branch-pass-1")
    page.get_by_test_id("ba-add").click()
    expect(page.locator(".flash-success")).to_be_visible()
    page.get_by_test_id("logout").click()

    page.goto(live_server + "/admin/login")
    page.get_by_test_id("username").fill("admin-a")
    page.get_by_test_id("password").fill("branch-pass-1")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("nav-merchants")).to_have_count(0)
    page.get_by_test_id("nav-orgs").click()
    expect(page.get_by_test_id("org-tree")).to_contain_text("一分会")
    expect(page.get_by_test_id("org-tree")).not_to_contain_text("二分会")
    page.get_by_role("link", name="一分会").click()
    expect(page).to_have_url(re.compile(rf"/admin/orgs/{t['A']}/members$"))
    expect(page.get_by_test_id("org-members").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("org-members")).to_contain_text("**************")
    resp = page.goto(live_server + f"/admin/orgs/{t['B']}/members")
    assert resp.status == 404
