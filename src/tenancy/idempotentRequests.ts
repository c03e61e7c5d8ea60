/**
 * `Idempotency-Key` on `/v1` POSTs. A client that sends a POST again with the same key — because it timed out, or
 * its connection dropped before the answer arrived — gets the first request's answer (with `Idempotent-Replayed:
 * true`) instead of a second application, token, retry or dequeue. The same key with a different request (method,
 * path, query or body) is 409 `idempotency-conflict`; a repeat while the first is still running is 409
 * `idempotency-in-progress` with `Retry-After`.
 *
 * Only a success (2xx) is remembered. Our handlers change nothing unless they succeed (each action is one
 * transaction), so after a 4xx or 5xx the key is released and a repeat runs the request again — after fixing what
 * the 400 named, say. One 503 is different: a request that timed out on our side may still finish, and then its
 * repeats are told so (409) rather than acting again. A success whose answer carries a secret shown once (its route
 * marks it, http/secretShownOnce.ts) is remembered as done, never as its answer: repeats are told so (409), and the
 * secret is not shown a second time. A key is remembered 24 hours (sql/083), per organization and token.
 *
 * Why not in the handlers' own transactions: the key must cover every POST the same way, and an action's
 * transaction is its capability's business. The cost is a window: if this process dies after a request's action
 * committed and before its answer was kept, the key's claim lapses after the request timeout and a repeat runs
 * the action again. `event_id` has no such window for events.
 */
import type { Context, MiddlewareHandler } from "hono";
import { createHmac } from "node:crypto";
import type { AppContext } from "../context.ts";
import { keyFromKeyring, type Keyring } from "../crypto/keyring.ts";
import { requireUtf8Charset } from "../http/charset.ts";
import type { HttpEnv } from "../http/env.ts";
import { ProblemError } from "../http/problem.ts";
import { readRequestBytes } from "../http/requestBody.ts";
import { answeredSecretShownOnce } from "../http/secretShownOnce.ts";
import { claimKey, keepAnswer, releaseKey, renewClaim, type KeptAnswer, type KeyOwner } from "./idempotencyKeys.ts";

/** 1–255 visible ASCII characters (a UUID, a ULID, a hash: whatever the client generates). */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** Answers larger than this are not kept: a repeat is told so (409) rather than given the answer or run again. */
export const MAX_KEPT_ANSWER_BYTES = 4 * 1024 * 1024;

/** Response headers a repeat gets back (the others are the service's own and set on every answer anew). */
const KEPT_HEADERS = ["content-type", "location", "etag", "retry-after"];

const utf8 = new TextDecoder("utf-8", { fatal: true });

function keyOf(c: Context<HttpEnv>): string | undefined {
  const key = c.req.header("idempotency-key");
  if (key === undefined) return undefined;
  if (!KEY_PATTERN.test(key)) {
    throw new ProblemError("validation", "the idempotency key is not valid", {
      errors: [{ field: "header.Idempotency-Key", message: "1-255 visible ASCII characters (no spaces)" }],
    });
  }
  return key;
}

/**
 * The keyed digest (HMAC-SHA256) of what makes two requests the same one: method, path, query and body. Keyed, so
 * that a stored digest cannot be checked offline against guesses of a low-entropy secret a request carried (a
 * route's basic-auth password, say): its key derives from the keyring's active key, never stored. A repeat that
 * spans a keyring rotation is told it is a different request (409), never run twice.
 */
async function requestHash(ctx: AppContext, c: Context<HttpEnv>): Promise<Uint8Array> {
  const url = new URL(c.req.url);
  return requestDigest(ctx.keyring, c.req.method, `${url.pathname}${url.search}`, await readRequestBytes(c));
}

/** The digest of one request: `target` is its path and query as sent. */
export function requestDigest(keyring: Keyring, method: string, target: string, body: Uint8Array): Uint8Array {
  return createHmac("sha256", requestHashKey(keyring)).update(`${method} ${target}\n`).update(body).digest();
}

const hashKeys = new WeakMap<Keyring, Buffer>();

/** A key of its own for request digests, derived from the active encryption key (never the key itself). */
function requestHashKey(keyring: Keyring): Buffer {
  let key = hashKeys.get(keyring);
  if (!key) {
    const active = keyFromKeyring(keyring, keyring.activeKeyId);
    if (!active) throw new Error("the keyring has no active key");
    key = createHmac("sha256", active).update("hookledger idempotency request digest v1").digest();
    hashKeys.set(keyring, key);
  }
  return key;
}

/**
 * The answer as a repeat will get it, or undefined when it is not one to keep (not a 2xx). A 2xx too large to keep
 * (or not UTF-8), or one carrying a secret shown once (a new token, a signing secret, a portal link: its route says
 * so), is kept as a refusal saying so: the action is done, so a repeat must not run it again, and a secret shown
 * once is not shown again to whoever repeats the request within 24 hours.
 */
async function answerToKeep(c: Context<HttpEnv>, response: Response): Promise<KeptAnswer | undefined> {
  if (response.status < 200 || response.status > 299) return undefined;
  if (answeredSecretShownOnce(c)) return answerNotKept(c, "its answer carried a secret that is shown once (a token, a signing secret or a link), so it was not kept");
  const bytes = new Uint8Array(await response.clone().arrayBuffer());
  if (bytes.byteLength > MAX_KEPT_ANSWER_BYTES) return answerNotKept(c, `its answer was larger than ${MAX_KEPT_ANSWER_BYTES} bytes, too large to keep`);
  let body: string;
  try {
    body = utf8.decode(bytes);
  } catch {
    return answerNotKept(c, "its answer was not UTF-8 text");
  }
  const headers: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = response.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  return { status: response.status, headers, body };
}

/**
 * Whether the client was answered 503 `timeout` (limits.ts) while the handler went on and finished without an
 * error. Its action is done, but its answer never reaches this middleware: Hono keeps the first response of a
 * request, and that was the 503. Releasing the key would let a repeat act twice.
 */
function timedOutButFinished(c: Context<HttpEnv>): boolean {
  return c.error instanceof ProblemError && c.error.slug === "timeout";
}

/** What a repeat gets when the first request acted but its answer could not be kept: never a second action, and why. */
function answerNotKept(c: Context<HttpEnv>, why: string): KeptAnswer {
  const problem = new ProblemError("idempotency-conflict", `the request first sent with this idempotency key was done, but ${why}; look up what it did instead of repeating it`);
  return { status: problem.status, headers: { "content-type": "application/problem+json" }, body: JSON.stringify(problem.toBody(new URL(c.req.url).pathname)) };
}

function replay(answer: KeptAnswer): Response {
  return new Response(answer.body === "" ? null : answer.body, { status: answer.status, headers: { ...answer.headers, "Idempotent-Replayed": "true" } });
}

/**
 * @param lockMs How long a request holds its key before a repeat may take it over (its process is presumed dead):
 *   longer than any request may run.
 */
export function idempotentRequests(ctx: AppContext, lockMs: number): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    if (c.req.method !== "POST") return next();
    const key = keyOf(c);
    if (key === undefined) return next();
    // Refused here as the route would refuse it, before its body is read: a repeat of a kept request declared in
    // another charset would otherwise be answered from the key, as if its body had been taken.
    requireUtf8Charset(c, "JSON bodies");
    const { orgId, tokenId } = c.get("auth");
    const owner: KeyOwner = { orgId, tokenId, key };
    const claim = await claimKey(ctx, owner, await requestHash(ctx, c), lockMs);
    switch (claim.kind) {
      case "answered":
        return replay(claim.answer);
      case "running":
        throw new ProblemError("idempotency-in-progress", "a request with this idempotency key is still running; repeat it once that one has answered", {
          headers: { "Retry-After": String(claim.retryAfterSeconds) },
        });
      case "other-request":
        throw new ProblemError("idempotency-conflict", "this idempotency key was used for a different request (method, path, query or body); use a new key");
      case "unreadable":
        throw new ProblemError("idempotency-conflict", "the answer kept under this idempotency key can no longer be read (its encryption key left the keyring); use a new key");
      case "claimed":
        break;
    }
    // A request may run longer than the claim's lock (stuck behind a lock of the database's, say): the claim is
    // renewed while it runs, so only a claim whose process died ever lapses to a repeat.
    const renewal = setInterval(() => void renewClaim(ctx, owner, claim.claimId, lockMs).catch(() => {}), Math.max(1000, lockMs / 3));
    renewal.unref?.();
    try {
      await next();
    } finally {
      clearInterval(renewal);
      await settleKey(ctx, c, owner, claim.claimId);
    }
  };
}

/**
 * Keeps the request's answer under its key, or releases the key. A failure here does not change the answer the
 * client gets (its action is done or not, whatever this write does): the claim then lapses after its lock.
 */
async function settleKey(ctx: AppContext, c: Context<HttpEnv>, owner: KeyOwner, claimId: string): Promise<void> {
  const answer = await answerOf(c);
  // Tried again on a failure (a database that restarted, a broken connection): a claim left to lapse would let a
  // repeat act a second time.
  for (let attempt = 1; ; attempt++) {
    try {
      if (answer) await keepAnswer(ctx, owner, claimId, answer);
      else await releaseKey(ctx, owner, claimId);
      return;
    } catch (error) {
      if (attempt === SETTLE_ATTEMPTS) {
        ctx.log.warn("the answer of a request with an idempotency key could not be kept; its key is held until its lock lapses", { request_id: c.get("requestId"), error });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
    }
  }
}

/** What the key keeps of the request: its answer, a refusal saying why a repeat cannot have it, or nothing (released). */
async function answerOf(c: Context<HttpEnv>): Promise<KeptAnswer | undefined> {
  if (timedOutButFinished(c)) return answerNotKept(c, "it finished after it had timed out, so its answer was not kept");
  if (c.error !== undefined) return undefined;
  try {
    return await answerToKeep(c, c.res);
  } catch {
    // The client's answer is already on its way; it must not become a 500 for this.
    return answerNotKept(c, "its answer could not be read to keep");
  }
}

/** Writes of a request's answer under its key, 0.5 s, 1 s and 2 s apart: through a database restart's few seconds. */
const SETTLE_ATTEMPTS = 4;
