import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import express from "express";
import { Hono } from "hono";
import { Tessera } from "../src/index.js";
import { expressGuard, fillTemplate, honoGuard, presentedToken } from "../src/middleware.js";
import { startTessera, type Running } from "./support.js";

let tessera: Running;
let verifier: Tessera;
let session: string;
before(async () => {
  tessera = await startTessera();
  const service = await tessera.admin.createToken({ name: "app", scopes: ["tokens:verify"] });
  verifier = tessera.admin.actingAs(service.token);
  session = (await tessera.admin.createToken({ name: "session", scopes: ["repo:read"], resources: ["repo:42"] })).token;
});
after(async () => {
  await tessera.stop();
});

describe("the middleware", () => {
  it("reads the token each way tessera does, and a template's parameters", () => {
    const from = (headers: Record<string, string>) => presentedToken((name) => headers[name]);
    assert.equal(from({ authorization: "Bearer tsr_a" }), "tsr_a");
    assert.equal(from({ authorization: "Api-Key tsr_a" }), "tsr_a");
    assert.equal(from({ "x-api-key": "tsr_a" }), "tsr_a");
    assert.equal(from({ authorization: `Basic ${Buffer.from("git:tsr_a").toString("base64")}` }), "tsr_a");
    assert.equal(from({ authorization: "Bearer tsr_a", "x-api-key": "tsr_b" }), undefined);
    assert.equal(from({ authorization: "Digest x" }), undefined);
    assert.equal(fillTemplate("repo:{repo_id}", { repo_id: "42" }), "repo:42");
    assert.equal(fillTemplate("repo:{repo_id}", {}), undefined);
  });

  it("guards an Express route by scopes and the resource from its path", async () => {
    const app = express();
    app.get("/repos/:repo_id/files", expressGuard({ tessera: verifier, scopes: ["repo:read"], resource: "repo:{repo_id}" }), (_req, res) => {
      res.json({ token_id: res.locals.tessera.token_id });
    });
    const server = app.listen(0, "127.0.0.1");
    await new Promise((ready) => server.once("listening", ready));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const get = (path: string, token?: string) =>
        fetch(`${base}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      const ok = await get("/repos/42/files", session);
      assert.equal(ok.status, 200);
      assert.match((await ok.json()).token_id, /^tok_/);
      const other = await get("/repos/43/files", session);
      assert.equal(other.status, 403);
      assert.equal(other.headers.get("content-type"), "application/problem+json; charset=utf-8");
      assert.equal((await other.json()).code, "insufficient_scope");
      const none = await get("/repos/42/files");
      assert.equal(none.status, 401);
      assert.ok(none.headers.get("www-authenticate"));
      assert.equal((await (await get("/repos/42/files", "tsr_nope")).json()).code, "invalid_token");
      // A token bound to networks is judged by `req.ip`: here, loopback.
      const bound = async (cidr: string) =>
        (await tessera.admin.createToken({ name: "bound", scopes: ["repo:read"], resources: ["repo:42"], allowed_cidrs: [cidr] })).token;
      assert.equal((await get("/repos/42/files", await bound("127.0.0.0/8"))).status, 200);
      const elsewhere = await get("/repos/42/files", await bound("10.0.0.0/8"));
      assert.equal(elsewhere.status, 403);
      assert.equal((await elsewhere.json()).code, "network_not_allowed");
      // A token with credits: each request spends one; then 429.
      const metered = (await tessera.admin.createToken({ name: "metered", scopes: ["repo:read"], resources: ["repo:42"], credits: { remaining: 1 } })).token;
      const first = await get("/repos/42/files", metered);
      assert.equal(first.status, 200);
      const spent = await get("/repos/42/files", metered);
      assert.equal(spent.status, 429);
      assert.equal((await spent.json()).code, "usage_exhausted");
      assert.equal(spent.headers.get("x-tessera-credits-remaining"), "0");
    } finally {
      server.close();
    }
  });

  it("guards a Hono route, and fails closed when tessera does not answer", async () => {
    const app = new Hono<{ Variables: { tessera: { token_id?: string | null } } }>();
    app.get("/repos/:repo_id/files", honoGuard({ tessera: verifier, scopes: ["repo:read"], resource: "repo:{repo_id}" }), (c) =>
      c.json({ token_id: c.get("tessera").token_id }),
    );
    const down = new Tessera({ baseUrl: "http://127.0.0.1:9", token: "tsr_x" });
    app.get("/down/:repo_id", honoGuard({ tessera: down, scopes: ["repo:read"], resource: "repo:{repo_id}" }), (c) => c.text("no"));
    const call = (path: string) => app.request(path, { headers: { Authorization: `Bearer ${session}` } });
    assert.equal((await call("/repos/42/files")).status, 200);
    assert.equal((await call("/repos/7/files")).status, 403);
    const unavailable = await call("/down/42");
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.headers.get("retry-after"), "1");
    assert.equal((await unavailable.json()).code, "unavailable");
  });
});
