/**
 * `POST /in/{route_id}` and `POST /in/{org_id}/{path}`: the public receive endpoint, by route id or by a route's
 * custom path. It sits outside `/v1` (senders authenticate by signature, basic auth or forward auth, not bearer
 * tokens) but behind the same per-IP rate limit and request timeout. Both URLs share one handler; an unknown or
 * malformed id, org id or path answers the same 404.
 *
 * Every authentication failure answers the same 401 whatever failed — missing header, bad signature, stale
 * timestamp, replayed nonce — so a forger learns nothing from the answer; the reason goes to the route's counters.
 */
import { Hono, type Context } from "hono";
import type { AppContext } from "../../context.ts";
import type { BodyBudget, BodyReservation } from "../../http/bodyBudget.ts";
import type { HttpEnv } from "../../http/env.ts";
import { requestScheme } from "../../http/forwarded.ts";
import { ProblemError } from "../../http/problem.ts";
import { whileBodyArrives } from "../../http/requestBody.ts";
import { requestMeta } from "../../tenancy/audit.ts";
import { createWebhookReceiver, type ReceiveOutcome, type ReceiveTarget } from "../receive.ts";
import type { IngressRouteCache } from "../routeCache.ts";
import type { AcceptedReceiptJson, DuplicateReceiptJson } from "./present.ts";

/**
 * Reads a body up to `maxBytes`, stopping (and answering undefined) as soon as it is longer: a chunked body has no
 * Content-Length to check up front, and must not be buffered in full first.
 */
export async function readCappedBody(request: Request, maxBytes: number): Promise<Uint8Array | undefined> {
  if (!request.body) return new Uint8Array(0);
  // A declared length frames the body: the server reads that many bytes and no more, so it is read in one piece
  // (a stream reader costs several times as much per request). Chunked bodies are read chunk by chunk.
  const declared = request.headers.get("content-length");
  if (declared !== null && /^\d{1,15}$/.test(declared) && Number(declared) <= maxBytes && !request.headers.has("transfer-encoding")) {
    return new Uint8Array(await request.arrayBuffer());
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/**
 * The org id and custom path of `/in/{org_id}/{path}` as sent, not as Hono decodes parameters: `%2F` is data
 * within a segment, not a separator, so `a%2Fb` must not become the path `a/b`. Only percent-encoded unreserved
 * characters are decoded (RFC 3986 §6.2.2.2: `%7E` is `~`); anything else left encoded makes the path invalid,
 * hence not found.
 */
function customPathTarget(pathname: string): ReceiveTarget {
  const [, , orgId = "", ...segments] = pathname.split("/");
  const path = segments.join("/").replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return /^[A-Za-z0-9._~-]$/.test(char) ? char : escape;
  });
  return { orgId, path };
}

/** A forward-auth server that failed or timed out is asked again after this long (the sender's retry, not ours). */
const FORWARD_AUTH_RETRY_AFTER_SECONDS = 5;

const tooLarge = (maxBytes: number) => new ProblemError("payload-too-large", `the body exceeds ${maxBytes} bytes`, { max_bytes: maxBytes });

/** The answer to a request, from what receiving it came to. */
function answerOutcome(c: Context<HttpEnv>, outcome: ReceiveOutcome, ceiling: number): Response {
  switch (outcome.kind) {
    case "accepted": {
      const reply: AcceptedReceiptJson = { receipt_id: outcome.receiptId };
      return c.json(reply, 202);
    }
    case "duplicate": {
      const reply: DuplicateReceiptJson = { duplicate: true };
      return c.json(reply, 200);
    }
    case "not_found":
      throw new ProblemError("not-found", "no such ingress route");
    case "rejected":
      if (outcome.status === 413) throw tooLarge(outcome.maxBytes ?? ceiling);
      if (outcome.status === 403) throw new ProblemError("forbidden", "the request was refused");
      if (outcome.status === 503) {
        throw new ProblemError("unavailable", "the request cannot be authenticated right now; try again later", { headers: { "Retry-After": String(FORWARD_AUTH_RETRY_AFTER_SECONDS) } });
      }
      throw new ProblemError("unauthorized", "the request could not be authenticated", {
        ...(outcome.reason === "basic_auth_failed" ? { headers: { "WWW-Authenticate": 'Basic realm="hookledger"' } } : {}),
      });
  }
}

/**
 * The receive routes. A body is held in `bodies`, the process's budget (src/http/bodyBudget.ts), from just before
 * it is read — after the route's own limit is checked — until its receipt is recorded or refused; one that does not
 * fit is answered 503 `overloaded`, unread.
 */
export function receiveRoutes(ctx: AppContext, routeCache: IngressRouteCache, bodies: BodyBudget): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  const ceiling = ctx.config.HOOKLEDGER_INGRESS_MAX_BODY_BYTES;
  const receiver = createWebhookReceiver(ctx, routeCache);

  const receive = async (c: Context<HttpEnv>, target: ReceiveTarget) => {
    // Before any lookup: a declared size over every route's limit costs us nothing to refuse.
    if (Number(c.req.header("content-length") ?? "0") > ceiling) throw tooLarge(ceiling);
    const url = new URL(c.req.url);
    let held: BodyReservation | undefined;
    try {
      const outcome = await receiver.receive({
        target,
        method: c.req.method,
        path: url.pathname + url.search,
        headers: c.req.raw.headers,
        readBody: (maxBytes) => {
          held = bodies.reserve(c.req.raw, maxBytes, c.get("clientIp"));
          return whileBodyArrives(c, () => readCappedBody(c.req.raw, maxBytes));
        },
        clientIp: c.get("clientIp"),
        scheme: requestScheme(c.req.url, c.req.header("x-forwarded-proto"), ctx.config.HOOKLEDGER_TRUST_PROXY),
        // A sender proven by mutual TLS is named in the receipt's entry as a token holder's connection is.
        meta: requestMeta(c),
      });
      return answerOutcome(c, outcome, ceiling);
    } finally {
      if (held) bodies.release(held);
    }
  };

  // Mounted at /in (src/compose/routes.ts): these answer /in/{route_id} and /in/{org_id}/{path}.
  app.post("/:route_id", (c) => receive(c, { routeId: c.req.param("route_id") }));
  // `{.+}` lets the path span segments. The runtime resolves `.` and `..` segments (`%2e` spellings too) when it
  // parses the URL, and the lookup compares a validated path for equality, so no spelling reaches another route.
  app.post("/:org_id/:path{.+}", (c) => receive(c, customPathTarget(new URL(c.req.url).pathname)));

  return app;
}
