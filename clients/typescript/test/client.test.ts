import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { Tessera, TesseraError } from "../src/index.js";
import { startTessera, type Running } from "./support.js";

let tessera: Running;
before(async () => {
  tessera = await startTessera();
});
after(async () => {
  await tessera.stop();
});

/** A bare repository at `bare` with one commit on `main`. */
function seedRepository(bare: string): void {
  const git = (cwd: string, ...args: string[]) => {
    const run = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main", ...args], { cwd, encoding: "utf8" });
    assert.equal(run.status, 0, `git ${args.join(" ")}: ${run.stderr}`);
  };
  const seed = mkdtempSync(join(tmpdir(), "seed-"));
  git(seed, "init", "-q", "--bare", bare);
  git(seed, "init", "-q", ".");
  writeFileSync(join(seed, "README"), "hello\n");
  git(seed, "add", "README");
  git(seed, "commit", "-q", "-m", "first");
  git(seed, "push", "-q", bare, "HEAD:main");
  rmSync(seed, { recursive: true, force: true });
}

/** `git clone`'s exit status; never prompts for credentials. */
function clone(url: string, into: string): number | null {
  return spawnSync("git", ["clone", "-q", url, into], { env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } }).status;
}

async function refusal(call: Promise<unknown>): Promise<TesseraError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof TesseraError, `a TesseraError: ${error}`);
    return error;
  }
  assert.fail("the call was refused");
}

describe("the client", () => {
  it("creates, uses, edits and revokes a token", async () => {
    const { admin } = tessera;
    const created = await admin.createToken({ name: "ci", scopes: ["repo:read", "repo:write"], expires_in: 3600 });
    assert.match(created.token, /^tsr_/);
    const ci = admin.actingAs(created.token);
    assert.equal((await ci.whoami()).id, created.id);
    assert.ok((await admin.listTokens({ name: "ci" })).tokens.some((t) => t.id === created.id));
    assert.ok((await admin.listTokens({ expiring_within: "2h" })).tokens.some((t) => t.id === created.id));
    assert.equal((await admin.updateToken(created.id, { name: "ci-2" })).name, "ci-2");
    assert.equal((await admin.getToken(created.id)).name, "ci-2");

    const answer = await admin.verify({ token: created.token, scopes: ["repo:read"] });
    assert.equal(answer.valid, true);
    const denied = await admin.verify({ token: created.token, scopes: ["tokens:manage"] });
    assert.equal(denied.code, "FORBIDDEN");
    assert.equal((await admin.introspect(created.token)).active, true);

    const rotated = await admin.rotateToken(created.id, 60);
    assert.equal(rotated.id, created.id);
    assert.equal((await admin.actingAs(rotated.token).whoami()).id, created.id);
    assert.equal((await ci.whoami()).id, created.id, "the previous secret, in its grace period");
    const itself = await admin.actingAs(rotated.token).rotateSelf(30);
    assert.equal((await admin.actingAs(itself.token).whoami()).id, created.id);
    const tooLong = await refusal(admin.rotateToken(created.id, 604_801));
    assert.equal(tooLong.code, "invalid_grace");

    assert.equal((await admin.revokeToken(created.id)).status, "revoked");
    const error = await refusal(ci.whoami());
    assert.equal(error.status, 401);
    assert.equal(error.code, "invalid_token");
    assert.equal((await admin.introspect(created.token)).active, false);
    assert.ok(!JSON.stringify(admin).includes("tsr_"), "the client never shows its token");
  });

  it("throws every refusal as a TesseraError with its code", async () => {
    const { admin } = tessera;
    // A scope outside the catalogue, sent as a client built for another deployment might.
    const unknown = await refusal(admin.createToken({ name: "x", scopes: ["no:such" as "repo:read"] }));
    assert.equal(unknown.status, 400);
    assert.equal(unknown.code, "unknown_scope");
    assert.equal(unknown.problem?.field, "scopes");
    assert.equal((await refusal(admin.getToken("tok_none"))).code, "not_found");
    const reader = await admin.createToken({ name: "reader", scopes: ["tokens:read"] });
    const forbidden = await refusal(admin.actingAs(reader.token).createToken({ name: "more", scopes: ["repo:read"] }));
    assert.equal(forbidden.code, "insufficient_scope");
    const nobody = await refusal(new Tessera({ baseUrl: "http://127.0.0.1:9", token: "tsr_x" }).health());
    assert.equal(nobody.status, 0);
    assert.equal(nobody.retryable, true);
  });

  it("runs a Relace-style sandbox session: a repo token, cloned with, then deleted", async () => {
    const { admin, git } = tessera;
    assert.ok(git, "run through scripts/clients, which starts git's HTTP backend for the clone");
    const repo = `repo_${Date.now()}`;
    seedRepository(join(git.root, "repo", repo));
    const sandbox = await admin.createRepoToken({ name: "sandbox-1", repo_ids: [repo] });
    const gateway = new URL(git.gatewayUrl);
    const cloneUrl = `http://x:${sandbox.token}@${gateway.host}/repo/${repo}`;
    const into = mkdtempSync(join(tmpdir(), "clone-"));
    assert.equal(clone(cloneUrl, join(into, "first")), 0, "the repo token clones its repository");
    assert.ok(existsSync(join(into, "first", "README")));
    await admin.deleteRepoToken(sandbox.token);
    assert.notEqual(clone(cloneUrl, join(into, "second")), 0, "a deleted token clones nothing");
    rmSync(into, { recursive: true, force: true });

    const session = await admin.createRepoToken({ name: "sandbox-1842", repo_ids: ["repo_7f3a", "org/repo_91bc"] });
    const use = (repo: string) => admin.verify({ token: session.token, scopes: ["repo:write"], resource: `repo:${repo}` });
    assert.equal((await use("repo_7f3a")).valid, true);
    assert.equal((await use("repo_other")).code, "FORBIDDEN");
    assert.deepEqual((await admin.getRepoToken(session.token)).repo_ids, ["repo_7f3a", "org/repo_91bc"]);
    await admin.deleteRepoToken(session.token);
    assert.equal((await admin.getRepoToken(session.token)).status, "revoked");
    assert.equal((await use("repo_7f3a")).code, "REVOKED");
  });

  it("makes a Flashback-style key per repository with an access level", async () => {
    const { admin } = tessera;
    const key = await admin.createRepoKey("repo-b", { name: "deploy", accessType: "READ" });
    assert.equal(key.success, true);
    const read = await admin.verify({ token: key.secret, scopes: ["repo:read"], resource: "repo:repo-b" });
    assert.equal(read.valid, true);
    const write = await admin.verify({ token: key.secret, scopes: ["repo:write"], resource: "repo:repo-b" });
    assert.equal(write.code, "FORBIDDEN");
    // Whoever holds a key may revoke it (RFC 7009).
    await new Tessera({ baseUrl: tessera.url, token: "" }).revokePresented(key.secret);
    assert.equal((await admin.introspect(key.secret)).active, false);
  });

  it("reads a token's usage by the hour", async () => {
    const { admin } = tessera;
    const counted = await admin.createToken({ name: "counted", scopes: ["repo:read"] });
    await admin.verify({ token: counted.token, scopes: ["repo:read"] });
    await admin.verify({ token: counted.token, scopes: ["repo:write"] });
    const report = await admin.tokenUsage(counted.id);
    const last = report.buckets.at(-1);
    assert.deepEqual([last?.valid, last?.forbidden], [1, 1]);
    assert.equal((await admin.tokenUsage(counted.id, { granularity: "day" })).granularity, "day");
  });

  it("reads the audit log and checks its chain", async () => {
    const { admin } = tessera;
    const made = await admin.createToken({ name: "audited", scopes: ["repo:read"] });
    await admin.revokeToken(made.id);
    const about = await admin.listAudit({ target: made.id });
    assert.deepEqual(
      about.entries.map((entry) => entry.action),
      ["token.revoked", "token.created"],
    );
    assert.equal((await admin.verifyAudit()).intact, true);
  });

  it("receives webhooks that Standard Webhooks' own library verifies", async () => {
    const { admin } = tessera;
    const received: { headers: Record<string, string>; body: string }[] = [];
    const receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => (body += chunk));
      request.on("end", () => {
        received.push({ headers: request.headers as Record<string, string>, body });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((ready) => receiver.listen(0, "127.0.0.1", ready));
    try {
      const { port } = receiver.address() as AddressInfo;
      const endpoint = await admin.createWebhook({ url: `http://127.0.0.1:${port}/hook`, events: ["token.created"] });
      assert.match(endpoint.secret, /^whsec_/);
      const made = await admin.createToken({ name: "announced", scopes: ["repo:read"] });
      for (let waited = 0; received.length === 0 && waited < 200; waited++) {
        await new Promise((tick) => setTimeout(tick, 25));
      }
      const [delivery] = received;
      assert.ok(delivery, "a delivery arrived");
      const payload = new Webhook(endpoint.secret).verify(delivery.body, delivery.headers) as {
        type: string;
        data: { token_id: string };
      };
      assert.deepEqual([payload.type, payload.data.token_id], ["token.created", made.id]);
      const log = await admin.webhookDeliveries(endpoint.id);
      assert.equal(log.deliveries[0]?.status, "delivered");
      await admin.deleteWebhook(endpoint.id);
      assert.equal((await admin.listWebhooks()).webhooks.length, 0);
    } finally {
      receiver.close();
    }
  });

  it("reports a leaked token, which is revoked", async () => {
    const { admin } = tessera;
    const leaked = await admin.createToken({ name: "pasted in a gist" });
    const verdicts = await admin.reportLeaks([{ token: leaked.token, type: "tessera_token", url: "https://example.com/gist" }, { token: "tsr_nothing", type: "tessera_token" }]);
    assert.deepEqual(verdicts.map((v) => v.label), ["true_positive", "false_positive"]);
    assert.equal((await admin.verify({ token: leaked.token })).code, "REVOKED");
  });

  it("gives a Relay-style token scopes with a wildcard and a rate-limit profile", async () => {
    const { admin } = tessera;
    const relay = await admin.createToken({
      name: "frontend",
      scopes: ["channels:*", "events:publish"],
      rate_limit: { profile: "restricted" },
    });
    const codes: string[] = [];
    for (let i = 0; i < 6; i++) {
      codes.push((await admin.verify({ token: relay.token, scopes: ["channels:read"] })).code);
    }
    assert.deepEqual(codes, ["VALID", "VALID", "VALID", "VALID", "VALID", "RATE_LIMITED"]);
    const catalogue = await admin.catalogue();
    assert.ok(catalogue.rate_limit_profiles.some((p) => p.name === "restricted" && p.burst === 5));
  });
});
