/**
 * A typed client for tessera: the types and the request surface are generated from
 * tessera's OpenAPI document (`src/schema.ts`, by openapi-typescript; calls through
 * openapi-fetch), and this file is the thin layer over them: one method per endpoint,
 * and every refusal thrown as a {@link TesseraError} carrying tessera's problem.
 */
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths } from "./schema.js";
export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
/** Every `code` a problem from tessera may carry. */
export type ProblemCode = Problem["code"];
export type TokenView = Schemas["TokenView"];
export type CreatedToken = Schemas["CreatedToken"];
export type CreateTokenRequest = Schemas["CreateTokenRequest"];
export type UpdateTokenRequest = Schemas["UpdateTokenRequest"];
export type TokenList = Schemas["TokenList"];
export type VerifyRequest = Schemas["VerifyRequest"];
export type VerifyResponse = Schemas["VerifyResponse"];
export type Catalogue = Schemas["Catalogue"];
export type Introspection = Schemas["Introspection"];
export type LeakReport = Schemas["LeakReport"];
export type LeakVerdict = Schemas["LeakVerdict"];
export type RepoTokenRequest = Schemas["RepoTokenRequest"];
export type RepoTokenCreated = Schemas["RepoTokenCreated"];
export type RepoTokenInfo = Schemas["RepoTokenInfo"];
export type RepoKeyRequest = Schemas["RepoKeyRequest"];
export type RepoKeyCreated = Schemas["RepoKeyCreated"];
export type ListTokensQuery = NonNullable<paths["/v1/tokens"]["get"]["parameters"]["query"]>;
export type UsageQuery = NonNullable<paths["/v1/tokens/{id}/usage"]["get"]["parameters"]["query"]>;
export type UsageReport = Schemas["UsageReport"];
export type AuditQuery = NonNullable<paths["/v1/audit"]["get"]["parameters"]["query"]>;
export type AuditList = Schemas["AuditList"];
export type AuditEntry = Schemas["AuditEntryView"];
export type AuditVerification = Schemas["AuditVerification"];
export type CreateWebhookRequest = Schemas["CreateWebhookRequest"];
export type UpdateWebhookRequest = Schemas["UpdateWebhookRequest"];
export type CreatedWebhook = Schemas["CreatedWebhook"];
export type WebhookView = Schemas["WebhookView"];
export type WebhookList = Schemas["WebhookList"];
export type DeliveryList = Schemas["DeliveryList"];
export type DeliveriesQuery = NonNullable<paths["/v1/webhooks/{id}/deliveries"]["get"]["parameters"]["query"]>;

/** A call tessera refused (`problem` says why and how to fix it), or one with no answer. */
export class TesseraError extends Error {
  constructor(
    /** The HTTP status; 0 when tessera could not be reached. */
    readonly status: number,
    /** tessera's problem document, when it wrote one. */
    readonly problem?: Problem,
    /** Seconds to wait before trying again (`Retry-After`), when tessera said. */
    readonly retryAfter?: number,
    options?: { cause?: unknown },
  ) {
    super(
      problem ? `tessera answered ${status}: ${problem.detail} (${problem.code})` : `tessera: HTTP ${status}`,
      options,
    );
    this.name = "TesseraError";
  }

  /** The problem's stable code: branch on this. */
  get code(): ProblemCode | undefined {
    return this.problem?.code;
  }

  /** True when trying again later may succeed: no answer, 429 or 503. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status === 503;
  }
}

export interface TesseraOptions {
  /** Where tessera listens, e.g. `https://tessera.internal` (a path prefix is kept). */
  baseUrl: string;
  /** The token this client acts with. */
  token: string;
  /** A `fetch` of your own (tests, proxies); the global one by default. */
  fetch?: typeof globalThis.fetch;
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** The OAuth endpoints take a form, not JSON. */
const form = (body: { token: string; token_type_hint?: string | null }) =>
  new URLSearchParams({ token: body.token, ...(body.token_type_hint ? { token_type_hint: body.token_type_hint } : {}) }).toString();
const formHeaders = { "Content-Type": "application/x-www-form-urlencoded" };

/** One deployment, one token. Every method throws {@link TesseraError} on a refusal. */
export class Tessera {
  /** The generated surface itself, for what the methods below leave out. */
  readonly raw: Client<paths>;

  constructor(private readonly options: TesseraOptions) {
    const token = options.token;
    this.raw = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
      headers: { Authorization: `Bearer ${token}` },
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  }

  /** The same deployment, acting with another token. */
  actingAs(token: string): Tessera {
    return new Tessera({ ...this.options, token });
  }

  /** Never shows the token. */
  toJSON(): { baseUrl: string } {
    return { baseUrl: this.options.baseUrl };
  }

  // Tokens.

  /** Creates a token within the caller's powers; `token` in the answer is shown this once. */
  createToken(body: CreateTokenRequest): Promise<CreatedToken> {
    return this.call(this.raw.POST("/v1/tokens", { body }));
  }
  listTokens(query: ListTokensQuery = {}): Promise<TokenList> {
    return this.call(this.raw.GET("/v1/tokens", { params: { query } }));
  }
  getToken(id: string): Promise<TokenView> {
    return this.call(this.raw.GET("/v1/tokens/{id}", { params: { path: { id } } }));
  }
  /** A token's answers by the hour (or the day: `{ granularity: "day" }`), every bucket of the range. */
  tokenUsage(id: string, query: UsageQuery = {}): Promise<UsageReport> {
    return this.call(this.raw.GET("/v1/tokens/{id}/usage", { params: { path: { id }, query } }));
  }
  /** The audit log, newest first (`{ order: "oldest" }` for the chain's order): all of it for the admin token, a manager's subtree for a manager. */
  listAudit(query: AuditQuery = {}): Promise<AuditList> {
    return this.call(this.raw.GET("/v1/audit", { params: { query } }));
  }
  /** Walks the audit log's hash chain (the admin token): `intact`, or the first entry edited, deleted or moved in `broken`. */
  verifyAudit(): Promise<AuditVerification> {
    return this.call(this.raw.GET("/v1/audit/verify"));
  }
  updateToken(id: string, body: UpdateTokenRequest): Promise<TokenView> {
    return this.call(this.raw.PATCH("/v1/tokens/{id}", { params: { path: { id } }, body }));
  }
  /** Revokes a token and every token made through it; it stays readable, `status: "revoked"`. */
  revokeToken(id: string): Promise<TokenView> {
    return this.call(this.raw.DELETE("/v1/tokens/{id}", { params: { path: { id } } }));
  }
  /** A new secret for the same token (`token` in the answer, shown once); the previous one works on for `graceSeconds` (0 to 7 days). */
  rotateToken(id: string, graceSeconds?: number): Promise<CreatedToken> {
    return this.call(
      this.raw.POST("/v1/tokens/{id}/rotate", {
        params: { path: { id } },
        body: graceSeconds === undefined ? {} : { grace_seconds: graceSeconds },
      }),
    );
  }
  /** The caller's own token gets a new secret: act with it from now on (`actingAs`). */
  rotateSelf(graceSeconds?: number): Promise<CreatedToken> {
    return this.call(
      this.raw.POST("/v1/tokens/self/rotate", { body: graceSeconds === undefined ? {} : { grace_seconds: graceSeconds } }),
    );
  }
  whoami(): Promise<TokenView> {
    return this.call(this.raw.GET("/v1/tokens/self"));
  }
  /** Revokes the caller's own token: a sandbox session's last call. */
  revokeSelf(): Promise<TokenView> {
    return this.call(this.raw.DELETE("/v1/tokens/self"));
  }

  // Checking tokens.

  /** May `body.token` do this? Needs `tokens:verify`; always an answer (`valid`, `code`). */
  verify(body: VerifyRequest): Promise<VerifyResponse> {
    return this.call(this.raw.POST("/v1/verify", { body }));
  }
  /** RFC 7662. Needs `tokens:verify`. */
  /** RFC 7662; a token bound to networks is active only with a `clientIp` inside them. */
  introspect(token: string, clientIp?: string): Promise<Introspection> {
    const body = clientIp ? { token, client_ip: clientIp } : { token };
    return this.call(this.raw.POST("/v1/introspect", { body, bodySerializer: form, headers: formHeaders }));
  }
  /** RFC 7009: whoever holds a token may revoke it; the answer is the same either way. */
  async revokePresented(token: string): Promise<void> {
    await this.call(
      this.raw.POST("/v1/revoke", { body: { token }, bodySerializer: form, headers: formHeaders }),
    );
  }
  /**
   * Reports tokens found in public (GitHub's secret-scanning shape); the live ones are
   * revoked (or flagged, as the deployment says). Acts with a token that has
   * `tokens:manage`, unless the deployment takes unsigned reports.
   */
  reportLeaks(reports: LeakReport[]): Promise<LeakVerdict[]> {
    return this.call(this.raw.POST("/v1/leaks", { body: reports }));
  }
  catalogue(): Promise<Catalogue> {
    return this.call(this.raw.GET("/v1/catalogue"));
  }

  // Webhooks (the admin token).

  /** Adds an endpoint; `secret` (whsec_…, for a Standard Webhooks verifier) is in this answer only. */
  createWebhook(body: CreateWebhookRequest): Promise<CreatedWebhook> {
    return this.call(this.raw.POST("/v1/webhooks", { body }));
  }
  listWebhooks(): Promise<WebhookList> {
    return this.call(this.raw.GET("/v1/webhooks"));
  }
  getWebhook(id: string): Promise<WebhookView> {
    return this.call(this.raw.GET("/v1/webhooks/{id}", { params: { path: { id } } }));
  }
  updateWebhook(id: string, body: UpdateWebhookRequest): Promise<WebhookView> {
    return this.call(this.raw.PATCH("/v1/webhooks/{id}", { params: { path: { id } }, body }));
  }
  /** Removes an endpoint and the deliveries it still had waiting. */
  async deleteWebhook(id: string): Promise<void> {
    await this.call(this.raw.DELETE("/v1/webhooks/{id}", { params: { path: { id } } }));
  }
  /** An endpoint's delivery log, newest first. */
  webhookDeliveries(id: string, query: DeliveriesQuery = {}): Promise<DeliveryList> {
    return this.call(this.raw.GET("/v1/webhooks/{id}/deliveries", { params: { path: { id }, query } }));
  }

  // Relace's repo tokens and Flashback's repository keys.

  createRepoToken(body: RepoTokenRequest): Promise<RepoTokenCreated> {
    return this.call(this.raw.POST("/v1/repo_token", { body }));
  }
  getRepoToken(token: string): Promise<RepoTokenInfo> {
    return this.call(this.raw.GET("/v1/repo_token/{token}", { params: { path: { token } } }));
  }
  /** Deletes (revokes) a repo token by its text, when a sandbox session ends. */
  async deleteRepoToken(token: string): Promise<void> {
    await this.call(this.raw.DELETE("/v1/repo_token/{token}", { params: { path: { token } } }));
  }
  /** A key for one repository at an access level: use `key:secret` as HTTP Basic credentials. */
  createRepoKey(repoId: string, body: RepoKeyRequest): Promise<RepoKeyCreated> {
    return this.call(this.raw.POST("/repo/{repo_id}/apikey", { params: { path: { repo_id: repoId } }, body }));
  }

  // Operations.

  async health(): Promise<void> {
    await this.call(this.raw.GET("/healthz"));
  }
  readiness(): Promise<Record<string, unknown>> {
    return this.call(this.raw.GET("/readyz"));
  }

  private async call<T>(request: Promise<Answer<T>>): Promise<T> {
    let answer: Answer<T>;
    try {
      answer = await request;
    } catch (cause) {
      throw new TesseraError(0, undefined, undefined, { cause });
    }
    const { data, error, response } = answer;
    if (response.ok) {
      return data as T;
    }
    const retryAfter = Number(response.headers.get("retry-after")) || undefined;
    throw new TesseraError(response.status, isProblem(error) ? error : undefined, retryAfter);
  }
}

function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && "code" in value && "detail" in value;
}
