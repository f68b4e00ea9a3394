"""The FastAPI dependency in front of a real app, against a real tessera."""

from __future__ import annotations

import base64

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from tessera_client import AsyncTessera
from tessera_client.fastapi import fill_template, install, presented_token, require_token


def test_the_token_and_the_template_read_as_tessera_reads_them():
    basic = "Basic " + base64.b64encode(b"git:tsr_a").decode()
    for headers in ({"authorization": "Bearer tsr_a"}, {"authorization": "Api-Key tsr_a"},
                    {"x-api-key": "tsr_a"}, {"authorization": basic}):
        assert presented_token(headers) == "tsr_a"
    for headers in ({}, {"authorization": "Digest x"}, {"authorization": "Bearer tsr_a", "x-api-key": "tsr_b"}):
        assert presented_token(headers) is None
    assert fill_template("repo:{repo_id}", {"repo_id": "42"}) == "repo:42"
    assert fill_template("repo:{repo_id}", {}) is None


@pytest.fixture()
def app_and_tokens(tessera):
    admin = tessera.admin
    verifier = admin.create_token({"name": "app", "scopes": ["tokens:verify"]})
    session = admin.create_token({"name": "session", "scopes": ["repo:read"], "resources": ["repo:42"]})
    app = FastAPI()
    install(app)
    checker = AsyncTessera(tessera.url, verifier.token)
    down = AsyncTessera("http://127.0.0.1:9", "tsr_x", timeout=2)

    @app.get("/repos/{repo_id}/files")
    async def files(repo_id: str, token=Depends(require_token(checker, ["repo:read"], "repo:{repo_id}"))):
        return {"repo": repo_id, "token_id": token.token_id}

    @app.get("/down/{repo_id}")
    async def unreachable(repo_id: str, token=Depends(require_token(down, ["repo:read"], "repo:{repo_id}"))):
        return {"repo": repo_id}

    return app, session.token


def test_the_dependency_lets_through_what_the_token_may_do_and_refuses_the_rest(app_and_tokens, tessera):
    app, session = app_and_tokens
    with TestClient(app) as client:
        bearer = {"Authorization": f"Bearer {session}"}
        ok = client.get("/repos/42/files", headers=bearer)
        assert ok.status_code == 200 and ok.json()["token_id"].startswith("tok_")
        other = client.get("/repos/43/files", headers=bearer)
        assert (other.status_code, other.json()["code"]) == (403, "insufficient_scope")
        assert other.headers["content-type"] == "application/problem+json"
        none = client.get("/repos/42/files")
        assert (none.status_code, none.json()["code"]) == (401, "missing_credentials")
        assert "www-authenticate" in none.headers
        bad = client.get("/repos/42/files", headers={"Authorization": "Bearer tsr_nope"})
        assert bad.json()["code"] == "invalid_token"
        # The test client names no address: a token bound to networks is refused.
        bound = tessera.admin.create_token(
            {"name": "bound", "scopes": ["repo:read"], "resources": ["repo:42"], "allowed_cidrs": ["10.0.0.0/8"]}
        )
        elsewhere = client.get("/repos/42/files", headers={"Authorization": f"Bearer {bound.token}"})
        assert (elsewhere.status_code, elsewhere.json()["code"]) == (403, "network_not_allowed")
        metered = tessera.admin.create_token(
            {"name": "metered", "scopes": ["repo:read"], "resources": ["repo:42"], "max_uses": 1}
        )
        once = {"Authorization": f"Bearer {metered.token}"}
        assert client.get("/repos/42/files", headers=once).status_code == 200
        spent = client.get("/repos/42/files", headers=once)
        assert (spent.status_code, spent.json()["code"]) == (429, "usage_exhausted")
        assert spent.headers["x-tessera-uses-remaining"] == "0"
        down = client.get("/down/42", headers=bearer)
        assert (down.status_code, down.json()["code"], down.headers["retry-after"]) == (503, "unavailable", "1")
