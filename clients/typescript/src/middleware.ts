/**
 * Verify middleware for Express and Hono: a route needs scopes and, with a template
 * (`repo:{repo_id}`), the resource built from its path parameters. The token each
 * request presents is read as tessera reads it and checked through `POST /v1/verify`
 * (the `Tessera` given acts with a token that has `tokens:verify`). Refusals are
 * tessera's own problems (401, 403, 429 with `Retry-After`; 503 when tessera does not
 * answer: fail closed). The answer is left for the handler: `res.locals.tessera`
 * (Express) or `c.get("tessera")` (Hono).
 */
import type { NextFunction, Request, Response } from "express";
import type { MiddlewareHandler } from "hono";
import { Tessera, TesseraError, type Problem, type VerifyRequest, type VerifyResponse } from "./index.js";

export interface GuardOptions {
  /** Acts with a token that has `tokens:verify`. */
  tessera: Tessera;
  /** Every one of these is needed. */
  scopes: string[];
  /** `type:{param}`: the resource, with the route's path parameters put in. */
  resource?: string;
  /**
   * The end client's address, for tokens bound to networks (`allowed_cidrs`), which
   * tessera refuses without it. Express uses `req.ip` (which follows its `trust proxy`
   * setting) unless this is given; Hono has no portable one: pass e.g. `getConnInfo`'s.
   */
  clientIp?: (request: unknown) => string | undefined;
}

/** The outcome for one request: let it through with tessera's answer, or refuse it. */
export type Decision =
  | { allowed: true; answer: VerifyResponse }
  | { allowed: false; status: number; problem: Problem; headers: Record<string, string> };

/** The token a request presents: `Authorization: Bearer` or `Api-Key`, `X-API-Key`, or HTTP Basic's password. */
export function presentedToken(header: (name: string) => string | undefined): string | undefined {
  const authorization = header("authorization")?.trim();
  const apiKey = header("x-api-key")?.trim();
  let found: string | undefined;
  if (authorization) {
    const space = authorization.indexOf(" ");
    const scheme = space > 0 ? authorization.slice(0, space).toLowerCase() : "";
    const rest = space > 0 ? authorization.slice(space + 1).trim() : "";
    if (rest && (scheme === "bearer" || scheme === "api-key")) {
      found = rest;
    } else if (rest && scheme === "basic") {
      const decoded = Buffer.from(rest, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      found = colon >= 0 && colon < decoded.length - 1 ? decoded.slice(colon + 1) : undefined;
    }
    if (!found) return undefined;
  }
  if (apiKey) {
    // Two credentials at once are refused: which one would be judged?
    if (found) return undefined;
    found = apiKey;
  }
  return found;
}

/** `repo:{repo_id}` with `{repo_id}` from `params`; `undefined` when one is missing. */
export function fillTemplate(template: string, params: Record<string, string | undefined>): string | undefined {
  let missing = false;
  const filled = template.replace(/\{([^{}]+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined || value === "") missing = true;
    return value ?? "";
  });
  return missing ? undefined : filled;
}

function problem(status: number, code: Problem["code"], detail: string): Problem {
  return { type: `/problems/${code}`, title: titles[status] ?? "Error", status, detail, code };
}

const titles: Record<number, string> = {
  401: "Unauthorized",
  403: "Forbidden",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

const challenge = 'Bearer realm="tessera"';

/** Asks tessera about one request. */
export async function decide(
  options: GuardOptions,
  token: string | undefined,
  params: Record<string, string | undefined>,
  clientIp?: string,
): Promise<Decision> {
  if (!token) {
    return {
      allowed: false,
      status: 401,
      problem: problem(401, "missing_credentials", "send a token as `Authorization: Bearer <token>`"),
      headers: { "WWW-Authenticate": challenge },
    };
  }
  const resource = options.resource ? fillTemplate(options.resource, params) : undefined;
  if (options.resource && resource === undefined) {
    return { allowed: false, status: 500, problem: problem(500, "internal", "the route lacks a parameter its resource names"), headers: {} };
  }
  let answer: VerifyResponse;
  try {
    // The generated type lists the default catalogue's scopes; a deployment may have its own.
    const scopes = options.scopes as NonNullable<VerifyRequest["scopes"]>;
    answer = await options.tessera.verify({
      token,
      scopes,
      ...(resource ? { resource } : {}),
      ...(clientIp ? { client_ip: clientIp } : {}),
    });
  } catch (error) {
    const unreachable = error instanceof TesseraError && error.retryable;
    return unreachable
      ? { allowed: false, status: 503, problem: problem(503, "unavailable", "the token service does not answer; retry later"), headers: { "Retry-After": "1" } }
      : { allowed: false, status: 500, problem: problem(500, "internal", "the server failed on this request"), headers: {} };
  }
  if (answer.valid) return { allowed: true, answer };
  switch (answer.code) {
    case "FORBIDDEN": {
      if (answer.missing?.network) {
        return {
          allowed: false,
          status: 403,
          problem: problem(403, "network_not_allowed", "this token may not be used from your address: it is bound to other networks"),
          headers: {},
        };
      }
      const lacks = answer.missing?.scopes.join(" ") ?? "";
      const detail = answer.missing?.resource ? `the token may not touch ${answer.missing.resource}` : `the token lacks ${lacks}`;
      return {
        allowed: false,
        status: 403,
        problem: problem(403, "insufficient_scope", detail),
        headers: { "WWW-Authenticate": `${challenge}, error="insufficient_scope", scope="${lacks}"` },
      };
    }
    case "RATE_LIMITED": {
      const wait = Math.max(1, Math.ceil((answer.rate_limit?.reset_ms ?? 1000) / 1000));
      return {
        allowed: false,
        status: 429,
        problem: problem(429, "rate_limited", "the token's rate limit is spent: wait, then send again"),
        headers: { "Retry-After": String(wait) },
      };
    }
    case "USAGE_EXHAUSTED": {
      const headers: Record<string, string> = { "Retry-After": "60" };
      if (answer.usage?.uses_remaining != null) headers["X-Tessera-Uses-Remaining"] = String(answer.usage.uses_remaining);
      if (answer.usage?.credits_remaining != null) headers["X-Tessera-Credits-Remaining"] = String(answer.usage.credits_remaining);
      return {
        allowed: false,
        status: 429,
        problem: problem(429, "usage_exhausted", "the token's usage is exhausted: its max_uses are used, or its credits cannot pay for this request"),
        headers,
      };
    }
    default:
      return {
        allowed: false,
        status: 401,
        problem: problem(401, "invalid_token", `the token is not valid (${answer.code})`),
        headers: { "WWW-Authenticate": `${challenge}, error="invalid_token"` },
      };
  }
}

/** Express: `app.get("/repos/:repo_id/files", expressGuard({ tessera, scopes: ["repo:read"], resource: "repo:{repo_id}" }), handler)`. */
export function expressGuard(options: GuardOptions) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const params = req.params as Record<string, string | undefined>;
    const clientIp = options.clientIp ? options.clientIp(req) : req.ip;
    const decision = await decide(options, presentedToken((name) => req.get(name)), params, clientIp);
    if (decision.allowed) {
      res.locals.tessera = decision.answer;
      next();
      return;
    }
    res.status(decision.status).set(decision.headers).type("application/problem+json").send(JSON.stringify(decision.problem));
  };
}

/** Hono: `app.get("/repos/:repo_id/files", honoGuard({ tessera, scopes: ["repo:read"], resource: "repo:{repo_id}" }), handler)`. */
export function honoGuard(options: GuardOptions): MiddlewareHandler<{ Variables: { tessera: VerifyResponse } }> {
  return async (c, next) => {
    const decision = await decide(options, presentedToken((name) => c.req.header(name)), c.req.param(), options.clientIp?.(c));
    if (decision.allowed) {
      c.set("tessera", decision.answer);
      await next();
      return;
    }
    return new Response(JSON.stringify(decision.problem), {
      status: decision.status,
      headers: { ...decision.headers, "Content-Type": "application/problem+json" },
    });
  };
}
