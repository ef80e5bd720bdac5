import pytest

from . import factories as f


@pytest.fixture
def shop(app_ctx):
    """An approved hotpot restaurant in 长安区 with owner and clerk tokens."""
    return f.merchant(clerk=True)


@pytest.fixture
def api(client):
    """Small JSON helpers: api.get(path, token), api.post(path, token, body)."""

    class Api:
        def get(self, path, token=None, **kw):
            return client.get(path, headers=f.bearer(token) if token else {}, **kw)

        def post(self, path, token=None, body=None, headers=None):
            h = (f.bearer(token) if token else {}) | (headers or {})
            return client.post(path, json=body if body is not None else {}, headers=h)

    return Api()
