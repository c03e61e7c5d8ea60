/**
 * Request hygiene for every route: client address, per-IP and per-token rate limits, body size limit and a
 * request timeout, each answering problem+json.
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { timeout } from "hono/timeout";
import type { HttpEnv } from "./env.ts";
import { ProblemError } from "./problem.ts";
import { TokenBuckets } from "./rateLimit.ts";

/** The client address: the socket's, or the first X-Forwarded-For hop when we run behind a trusted proxy. */
export function clientAddress(trustProxy: boolean): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const forwarded = trustProxy ? c.req.header("x-forwarded-for")?.split(",")[0]?.trim() : undefined;
    c.set("clientIp", forwarded || c.env?.clientIp || "");
    await next();
  };
}

const tooMany = (retryAfterSeconds: number, detail: string) =>
  new ProblemError("rate-limited", detail, { headers: { "Retry-After": String(retryAfterSeconds) }, retry_after_seconds: retryAfterSeconds });

export function rateLimitByIp(buckets: TokenBuckets): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const decision = buckets.take(`ip:${c.get("clientIp")}`);
    if (!decision.allowed) throw tooMany(decision.retryAfterSeconds, "too many requests from this address");
    await next();
  };
}

/** Runs after authentication: one token's burst cannot starve the others. */
export function rateLimitByToken(buckets: TokenBuckets): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const decision = buckets.take(`token:${c.get("auth").tokenId}`);
    if (!decision.allowed) throw tooMany(decision.retryAfterSeconds, "too many requests with this token");
    await next();
  };
}

export function limitBody(maxBytes: number): MiddlewareHandler<HttpEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ProblemError("payload-too-large", `the body exceeds ${maxBytes} bytes`, { max_bytes: maxBytes });
    },
  });
}

export function limitTime(ms: number): MiddlewareHandler<HttpEnv> {
  return timeout(ms, () => new ProblemError("timeout", `the request did not finish within ${ms} ms`) as never);
}
