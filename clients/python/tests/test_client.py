"""The client against a real tessera: every call, every refusal typed, the seeds' flows."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tessera_client import AsyncTessera, Tessera, TesseraError
from tessera_client.models import CreateTokenRequest


def test_a_token_is_created_used_edited_and_revoked(tessera):
    admin = tessera.admin
    created = admin.create_token(CreateTokenRequest(name="ci", expires_in=3600, scopes=None))
    assert created.token.startswith("tsr_")
    ci = admin.acting_as(created.token)
    assert ci.whoami().id == created.id
    assert any(t.id == created.id for t in admin.list_tokens(name="ci").tokens)
    assert any(t.id == created.id for t in admin.list_tokens(expiring_within="2h").tokens)
    assert admin.update_token(created.id, {"name": "ci-2"}).name == "ci-2"
    assert admin.get_token(created.id).name == "ci-2"

    assert admin.verify({"token": created.token, "scopes": ["repo:read"]}).valid
    assert admin.introspect(created.token).active
    rotated = admin.rotate_token(created.id, grace_seconds=60)
    assert rotated.id == created.id
    assert admin.acting_as(rotated.token).whoami().id == created.id
    assert ci.whoami().id == created.id  # the previous secret, in its grace period
    itself = admin.acting_as(rotated.token).rotate_self(grace_seconds=30)
    assert admin.acting_as(itself.token).whoami().id == created.id
    with pytest.raises(TesseraError) as too_long:
        admin.rotate_token(created.id, grace_seconds=604_801)
    assert too_long.value.code == "invalid_grace"

    assert admin.revoke_token(created.id).status == "revoked"
    with pytest.raises(TesseraError) as refused:
        ci.whoami()
    assert (refused.value.status, refused.value.code) == (401, "invalid_token")
    assert not admin.introspect(created.token).active
    assert "tsr_" not in repr(admin)


def test_every_refusal_is_a_tessera_error_with_its_code(tessera):
    admin = tessera.admin
    with pytest.raises(TesseraError) as unknown:
        admin.create_token({"name": "x", "scopes": ["no:such"]})
    assert (unknown.value.status, unknown.value.code, unknown.value.field) == (400, "unknown_scope", "scopes")
    with pytest.raises(TesseraError) as missing:
        admin.get_token("tok_none")
    assert missing.value.code == "not_found"
    reader = admin.create_token({"name": "reader", "scopes": ["tokens:read"]})
    with pytest.raises(TesseraError) as forbidden:
        admin.acting_as(reader.token).create_token({"name": "more", "scopes": ["repo:read"]})
    assert forbidden.value.code == "insufficient_scope"
    with pytest.raises(TesseraError) as nobody:
        Tessera("http://127.0.0.1:9", "tsr_x", timeout=2).health()
    assert nobody.value.status == 0 and nobody.value.retryable


def _seed_repository(bare: Path) -> None:
    """A bare repository at ``bare`` with one commit on ``main``."""
    with tempfile.TemporaryDirectory() as seed:

        def git(*args: str) -> None:
            subprocess.run(
                ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main", *args],
                cwd=seed, check=True, capture_output=True,
            )

        git("init", "-q", "--bare", str(bare))
        git("init", "-q", ".")
        Path(seed, "README").write_text("hello\n")
        git("add", "README")
        git("commit", "-q", "-m", "first")
        git("push", "-q", str(bare), "HEAD:main")


def _clone(url: str, into: Path) -> int:
    """``git clone``'s exit status; never prompts for credentials."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(["git", "clone", "-q", url, str(into)], env=env, capture_output=True).returncode


def test_a_relace_sandbox_session(tessera, tmp_path):
    """A repo token per sandbox session: created for its repo_ids, cloned with, deleted."""
    admin = tessera.admin
    assert tessera.git, "run through scripts/clients, which starts git's HTTP backend for the clone"
    repo = f"repo_{time.time_ns()}"
    _seed_repository(tessera.git.root / "repo" / repo)
    sandbox = admin.create_repo_token({"name": "sandbox-1", "repo_ids": [repo]})
    host = tessera.git.gateway_url.removeprefix("http://")
    url = f"http://x:{sandbox.token}@{host}/repo/{repo}"
    assert _clone(url, tmp_path / "first") == 0, "the repo token clones its repository"
    assert (tmp_path / "first" / "README").exists()
    admin.delete_repo_token(sandbox.token)
    assert _clone(url, tmp_path / "second") != 0, "a deleted token clones nothing"
    session = admin.create_repo_token({"name": "sandbox-1842", "repo_ids": ["repo_7f3a", "org/repo_91bc"]})

    def use(repo: str) -> str:
        return admin.verify({"token": session.token, "scopes": ["repo:write"], "resource": f"repo:{repo}"}).code

    assert use("repo_7f3a") == "VALID"
    assert use("repo_other") == "FORBIDDEN"
    assert admin.get_repo_token(session.token).repo_ids == ["repo_7f3a", "org/repo_91bc"]
    admin.delete_repo_token(session.token)
    assert admin.get_repo_token(session.token).status == "revoked"
    assert use("repo_7f3a") == "REVOKED"


def test_a_flashback_key_per_repository(tessera):
    admin = tessera.admin
    key = admin.create_repo_key("repo-b", {"name": "deploy", "accessType": "READ"})
    assert key.success
    read = admin.verify({"token": key.secret, "scopes": ["repo:read"], "resource": "repo:repo-b"})
    write = admin.verify({"token": key.secret, "scopes": ["repo:write"], "resource": "repo:repo-b"})
    assert (read.valid, write.code) == (True, "FORBIDDEN")
    with pytest.raises(TesseraError) as refused:
        admin.create_repo_key("repo-b", {"name": "no-level"})
    assert refused.value.code == "missing_access_type"
    Tessera(tessera.url, "").revoke_presented(key.secret)
    assert not admin.introspect(key.secret).active


def test_a_tokens_usage_by_the_hour(tessera):
    admin = tessera.admin
    counted = admin.create_token({"name": "counted", "scopes": ["repo:read"]})
    admin.verify({"token": counted.token, "scopes": ["repo:read"]})
    admin.verify({"token": counted.token, "scopes": ["repo:write"]})
    last = admin.token_usage(counted.id).buckets[-1]
    assert (last.valid, last.forbidden) == (1, 1)
    assert admin.token_usage(counted.id, granularity="day").granularity == "day"


def test_the_audit_log_records_and_checks_out(tessera):
    admin = tessera.admin
    made = admin.create_token({"name": "audited", "scopes": ["repo:read"]})
    admin.revoke_token(made.id)
    about = admin.list_audit(target=made.id, from_="2000-01-01T00:00:00Z")
    assert [entry.action for entry in about.entries] == ["token.revoked", "token.created"]
    assert admin.verify_audit().intact


def test_webhooks_verify_with_standard_webhooks_own_library(tessera):
    import http.server
    import threading

    from standardwebhooks import Webhook

    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the standard library's name)
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        admin = tessera.admin
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        endpoint = admin.create_webhook({"url": url, "events": ["token.created"]})
        assert endpoint.secret.startswith("whsec_")
        made = admin.create_token({"name": "announced", "scopes": ["repo:read"]})
        for _ in range(200):
            if received:
                break
            time.sleep(0.025)
        headers, body = received[0]
        headers = {name.lower(): value for name, value in headers.items()}
        payload = Webhook(endpoint.secret).verify(body, headers)
        assert (payload["type"], payload["data"]["token_id"]) == ("token.created", made.id)
        assert admin.webhook_deliveries(endpoint.id).deliveries[0].status == "delivered"
        admin.delete_webhook(endpoint.id)
        assert admin.list_webhooks().webhooks == []
    finally:
        server.shutdown()


def test_a_leaked_token_reported_is_revoked(tessera):
    admin = tessera.admin
    leaked = admin.create_token({"name": "pasted in a gist"})
    verdicts = admin.report_leaks([
        {"token": leaked.token, "type": "tessera_token", "url": "https://example.com/gist"},
        {"token": "tsr_nothing", "type": "tessera_token"},
    ])
    assert [v.label for v in verdicts] == ["true_positive", "false_positive"]
    assert admin.verify({"token": leaked.token}).code == "REVOKED"


def test_a_relay_token_with_a_wildcard_and_a_rate_limit_profile(tessera):
    admin = tessera.admin
    relay = admin.create_token(
        {"name": "frontend", "scopes": ["channels:*", "events:publish"], "rate_limit": {"profile": "restricted"}}
    )
    codes = [admin.verify({"token": relay.token, "scopes": ["channels:read"]}).code for _ in range(6)]
    assert codes == ["VALID"] * 5 + ["RATE_LIMITED"]
    assert any(p.name == "restricted" and p.burst == 5 for p in admin.catalogue().rate_limit_profiles)


def test_the_async_client_does_the_same(tessera):
    async def flow() -> None:
        admin = AsyncTessera(tessera.url, tessera.admin_token)
        try:
            created = await admin.create_token({"name": "async", "scopes": ["repo:read"]})
            assert (await admin.acting_as(created.token).whoami()).id == created.id
            assert (await admin.verify({"token": created.token, "scopes": ["repo:read"]})).valid
            await admin.revoke_token(created.id)
            with pytest.raises(TesseraError) as refused:
                await admin.get_token("tok_none")
            assert refused.value.code == "not_found"
            assert (await admin.readiness())["status"] == "ready"
        finally:
            await admin.aclose()

    asyncio.run(flow())
