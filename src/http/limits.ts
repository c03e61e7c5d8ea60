/**
 * Request hygiene for every route: client address, per-IP and per-token rate limits, body size limit, content
 * coding and a request timeout, each answering problem+json.
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { timeout } from "hono/timeout";
import type { BodyBudget } from "./bodyBudget.ts";
import { clientKey } from "./clientKey.ts";
import type { HttpEnv } from "./env.ts";
import { clientAddressOf } from "./forwarded.ts";
import { isConnectionAbort, ProblemError } from "./problem.ts";
import { TokenBuckets } from "./rateLimit.ts";
import { isBodyArriving, stopWaitingForBody, whileBodyArrives } from "./requestBody.ts";

/** The client address: the socket's, or behind `trustedProxies` proxies the one they say (forwarded.ts). */
export function clientAddress(trustedProxies: number): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    c.set("clientIp", clientAddressOf(c.req.header("x-forwarded-for"), c.env?.clientIp || "", trustedProxies));
    await next();
  };
}

const tooMany = (retryAfterSeconds: number, detail: string) =>
  new ProblemError("rate-limited", detail, { headers: { "Retry-After": String(retryAfterSeconds) }, retry_after_seconds: retryAfterSeconds });

/** One bucket per client address, an IPv6 client's per /64 (clientKey.ts). */
export function rateLimitByIp(buckets: TokenBuckets): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const decision = buckets.take(`ip:${clientKey(c.get("clientIp"))}`);
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

/**
 * Refuses a body over `maxBytes` (413), and holds its bytes in `bodies` (bodyBudget.ts) from before it is read until
 * the rest of the request's handling ends: a body that does not fit is refused (503 `overloaded`) unread.
 */
export function limitBody(maxBytes: number, bodies: BodyBudget): MiddlewareHandler<HttpEnv> {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ProblemError("payload-too-large", `the body exceeds ${maxBytes} bytes`, { max_bytes: maxBytes });
    },
  });
  // A chunked body is read here, in full, before the next middleware runs: until then the request waits for its
  // client (a body with a Content-Length is only checked here, and read by the route).
  return async (c, next) => {
    const held = bodies.reserve(c.req.raw, maxBytes, c.get("clientIp"));
    try {
      let passed = false;
      const check = () =>
        limit(c, async () => {
          passed = true;
        });
      await (readsHere(c.req.raw) ? whileBodyArrives(c, check) : check());
      if (passed) await next();
    } finally {
      bodies.release(held);
    }
  };
}

/** Whether hono's body limit reads the body of `request` (no Content-Length to check): only then can it stall. */
const readsHere = (request: Request): boolean =>
  request.headers.has("transfer-encoding") || (!request.headers.has("content-length") && request.method !== "GET" && request.method !== "HEAD");

/** Seconds a client is asked to wait before repeating a request that timed out on our side. */
export const TIMEOUT_RETRY_AFTER_SECONDS = 5;

/**
 * Requests taking longer than `ms` answer at once. A request still waiting for its body (a client that declared
 * more than it sends and keeps the connection open) is the client's fault: 408 `request-timeout`, and the
 * connection is closed, as RFC 9110 asks. Anything else was slow on our side: 503 `timeout` with Retry-After.
 */
export function limitTime(ms: number): MiddlewareHandler<HttpEnv> {
  return timeout(ms, (c) => {
    timedOut.add(c);
    if (isBodyArriving(c)) {
      const problem = new ProblemError("request-timeout", `the request body did not arrive within ${ms} ms`, { headers: { Connection: "close" } });
      // The handler waiting for the body stops now, giving the body back (requestBody.ts says why it must be told).
      stopWaitingForBody(c, problem);
      return problem as never;
    }
    return new ProblemError("timeout", `the request did not finish within ${ms} ms`, { headers: { "Retry-After": String(TIMEOUT_RETRY_AFTER_SECONDS) } }) as never;
  });
}

/** Requests limitTime has answered: what their handlers do after that reaches no one. */
const timedOut = new WeakSet<Context>();

/**
 * Whether `error` is only the end of a request limitTime already answered: the connection it closed (408 carries
 * `Connection: close`) fails the body read still waiting. On Bun that read's AbortError reached the error handler
 * after the answer and was logged as an unhandled error (sweep 19).
 */
export function endedByTimeout(c: Context, error: unknown): boolean {
  return timedOut.has(c) && isConnectionAbort(error);
}

/**
 * Refuses a request whose body is content-coded (Content-Encoding other than `identity`) with 415 naming the
 * header: bodies are not decoded, so a gzip body would be read as its compressed bytes (and a JSON route would
 * answer malformed-json, or worse, take a body that happens to parse). Accept-Encoding says what is accepted
 * (RFC 9110 §15.5.16).
 */
export function identityEncodingOnly(): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const codings = (c.req.header("content-encoding") ?? "").split(",").map((coding) => coding.trim().toLowerCase()).filter(Boolean);
    if (codings.some((coding) => coding !== "identity")) {
      throw new ProblemError("unsupported-media-type", "content codings are not supported: send the body uncompressed, without Content-Encoding", {
        errors: [{ field: "header.Content-Encoding", message: `"${codings.join(", ").slice(0, 100)}" is not supported; only identity (no coding) is` }],
        headers: { "Accept-Encoding": "identity" },
      });
    }
    await next();
  };
}
