/**
 * What a hostile-input sweep found, each fixed for every route that shares the mechanism: cursors at year 0,
 * quotas no column can hold, clients that go away or stall mid-body, top-level arrays read as objects, bodies
 * that are not JSON (or are compressed) read as JSON, and HEAD running GET handlers that write. Real Postgres, real
 * HTTP; clients that misbehave at the socket level are raw TCP connections.
 */
import { connect } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { TIMEOUT_RETRY_AFTER_SECONDS } from "../../src/http/limits.ts";
import { eventually, startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { consoleSession } from "../support/consoleSession.ts";
import type { TestDatabase } from "../support/database.ts";
import { startReceiver } from "../support/receiver.ts";
import { routeWorld, type RouteWorld } from "./routeWorld.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are parsed JSON */

let db: TestDatabase;
let app: TestApp;
let t: RouteWorld["t"];
let subscriptionId: string;
let routeId: string;

beforeAll(async () => {
  ({ db, app, t, routeId, subscriptionId } = await routeWorld("hostile", { auth: { type: "basic", username: "sender" }, secret: "s3cret-password-16" }));
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const ledgerRows = async (type?: string) =>
  (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where ${type ?? null}::text is null or type = ${type ?? null}`)[0]?.n;

/** Sends `body` verbatim with the tenant's token. */
async function send(method: string, path: string, body: string | Uint8Array | undefined, headers: Record<string, string> = {}) {
  const response = await app.fetch(path, { method, headers: { authorization: `Bearer ${t.token}`, ...headers }, ...(body !== undefined ? { body: body as BodyInit } : {}) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as any) : undefined };
}

const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("pagination cursors at the edges of time", () => {
  const YEAR_ZERO = cursor({ k: "0000-01-01T00:00:00.000Z", id: "00000000-0000-0000-0000-000000000000" });

  it("refuses a cursor keyed at year 0 with 400 naming query.after on every list keyed by time, and takes years 1 and 9999", async () => {
    const lists: [string, string, string][] = [
      ["/v1/applications", t.token, "00000000-0000-0000-0000-000000000000"],
      ["/v1/organizations", TEST_ADMIN_TOKEN, "00000000-0000-0000-0000-000000000000"],
      ["/v1/events", t.token, "evt_x"],
      ["/v1/subscriptions", t.token, "00000000-0000-0000-0000-000000000000"],
      [`/v1/subscriptions/${subscriptionId}/deliveries`, t.token, "00000000-0000-0000-0000-000000000000"],
      ["/v1/attempts", t.token, "00000000-0000-0000-0000-000000000000"],
      ["/v1/tokens", t.token, "00000000-0000-0000-0000-000000000000"],
      ["/v1/ingress-routes", t.token, "rt_x"],
      [`/v1/ingress-routes/${routeId}/receipts`, t.token, "rcpt_x"],
      ["/v1/pull-queues", t.token, "q"],
      ["/v1/pull/hostile/dead-letters", t.token, "00000000-0000-0000-0000-000000000000"],
    ];
    for (const [path, token, id] of lists) {
      const refused = await app.call("GET", `${path}?after=${cursor({ k: "0000-01-01T00:00:00.000Z", id })}`, token);
      expect(refused.status, `${path}: ${JSON.stringify(refused.body)}`).toBe(400);
      expect(refused.body.errors).toEqual([{ field: "query.after", message: "expected a cursor from a previous page's next_cursor" }]);
      for (const edge of ["0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"]) {
        expect((await app.call("GET", `${path}?after=${cursor({ k: edge, id })}`, token)).status, `${path} ${edge}`).toBe(200);
      }
    }
    expect((await app.call("GET", `/v1/applications?after=${YEAR_ZERO}`, t.token)).status).toBe(400);
  });

  it("shows the console's events list a year-0 cursor as a refused filter, not a 5xx", async () => {
    const session = await consoleSession(app, t.token);
    const response = await session.get(`/console/events?after=${YEAR_ZERO}`);
    expect(response.status).toBeLessThan(500);
    expect(await response.text()).toContain("the cursor is not one this API issued");
  });
});

describe("quotas", () => {
  const patchQuotas = (raw: string) => app.fetch(`/v1/organizations/${t.orgId}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": "application/json" },
    body: `{"quotas":${raw}}`,
  });

  it("refuses a quota above Number.MAX_SAFE_INTEGER with 400 naming it, and events still ingest at the largest one", async () => {
    for (const name of ["events_per_day", "applications", "subscriptions_per_application", "ingress_routes"]) {
      for (const value of ["1e20", "1e300", "9223372036854775807", "9007199254740992"]) {
        const response = await patchQuotas(`{"${name}":${value}}`);
        const body = (await response.json()) as any;
        expect(response.status, `${name}=${value}`).toBe(400);
        expect(body.errors.map((error: { field: string }) => error.field)).toEqual([`quotas.${name}`]);
      }
    }
    const largest = await patchQuotas(`{"events_per_day":${Number.MAX_SAFE_INTEGER},"applications":${Number.MAX_SAFE_INTEGER}}`);
    expect(largest.status).toBe(200);
    const event = await app.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: "github.push", payload: { quota: "largest" } });
    expect(event.status, JSON.stringify(event.body)).toBe(202);
    const usage = await app.call("GET", "/v1/usage", t.token);
    expect(usage.status).toBe(200);
    expect((await patchQuotas("{}")).status).toBe(200);
  });
});

/** A raw HTTP/1.1 exchange: writes `head` and `body`, then closes after `closeAfterMs`, or waits for the answer. */
function rawRequest(target: TestApp, head: string[], body: string, options: { closeAfterMs?: number; waitMs?: number } = {}) {
  return new Promise<{ status?: number; headers: Record<string, string>; text: string; closedByServer: boolean }>((resolve) => {
    const socket = connect(Number(new URL(target.baseUrl).port), "127.0.0.1");
    let received = "";
    let closedByServer = false;
    const finish = () => {
      const [headText = "", ...rest] = received.split("\r\n\r\n");
      const [statusLine = "", ...lines] = headText.split("\r\n");
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]));
      const status = /^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1];
      resolve({ status: status ? Number(status) : undefined, headers, text: rest.join("\r\n\r\n"), closedByServer });
    };
    socket.on("connect", () => {
      socket.write(`${head.join("\r\n")}\r\n\r\n${body}`);
      if (options.closeAfterMs !== undefined) setTimeout(() => socket.destroy(), options.closeAfterMs);
    });
    socket.on("data", (chunk) => {
      received += chunk.toString("latin1");
    });
    socket.on("end", () => {
      closedByServer = true;
    });
    socket.on("close", finish);
    socket.on("error", () => undefined);
    if (options.waitMs !== undefined) setTimeout(() => socket.destroy(), options.waitMs);
  });
}

const httpRequests = async (target: TestApp, route: string) => {
  const text = await target.ctx.metrics.registry.metrics();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^hookledger_http_requests_total\{method="POST",route="([^"]+)",status="(\d+)"\} (\d+)$/gm)) {
    if (match[1] === route) counts[match[2] as string] = Number(match[3]);
  }
  return counts;
};

describe("clients that go away or stall mid-body", () => {
  it("records a client that closes mid-body as 499 (not a 5xx), logs it below warn and reports nothing, on /v1 and /in", async () => {
    const errors = vi.spyOn(app.ctx.log, "error");
    const warnings = vi.spyOn(app.ctx.log, "warn");
    const reports = vi.spyOn(app.ctx.errors, "captureException");
    try {
      const cases: [string, string, string[]][] = [
        ["/v1/applications", "/v1/applications", [`Authorization: Bearer ${t.token}`, "Content-Type: application/json", "Content-Length: 100"]],
        // A chunked body is read by the body limit, before any route matched: counted under the /v1 pattern.
        ["/v1/*", "/v1/pull/hostile/dequeue", [`Authorization: Bearer ${t.token}`, "Content-Type: application/json", "Transfer-Encoding: chunked"]],
        ["/in/:route_id", `/in/${routeId}`, ["Content-Type: application/json", "Content-Length: 100"]],
      ];
      for (const [route, path, headers] of cases) {
        const before = await httpRequests(app, route);
        const body = headers.includes("Transfer-Encoding: chunked") ? '3\r\n{"n\r\n' : '{"n';
        await rawRequest(app, [`POST ${path} HTTP/1.1`, "Host: 127.0.0.1", ...headers], body, { closeAfterMs: 150 });
        const after = await eventually(async () => {
          const counts = await httpRequests(app, route);
          return (counts["499"] ?? 0) > (before["499"] ?? 0) ? counts : undefined;
        }, 10_000, `499 for ${route}`);
        for (const status of Object.keys(after).filter((status) => Number(status) >= 500)) expect(after[status], `${route} ${status}`).toBe(before[status]);
      }
      expect(errors).not.toHaveBeenCalled();
      expect(warnings).not.toHaveBeenCalled();
      expect(reports).not.toHaveBeenCalled();
    } finally {
      vi.restoreAllMocks();
    }
  });

  describe("with a short request timeout", () => {
    let quick: TestApp;
    beforeAll(async () => {
      quick = await startTestApp(db, { env: { HOOKLEDGER_REQUEST_TIMEOUT_MS: "1500" } });
    });
    afterAll(async () => {
      await quick?.stop();
    });

    it("answers a body that stalls on /v1 and /in with 408 request-timeout problem+json and closes the connection", async () => {
      const errors = vi.spyOn(quick.ctx.log, "error");
      const reports = vi.spyOn(quick.ctx.errors, "captureException");
      for (const [requestLine, headers, body] of [
        ["POST /v1/applications HTTP/1.1", ["Content-Length: 100"], '{"name":'],
        ["POST /v1/applications HTTP/1.1", ["Transfer-Encoding: chunked"], '8\r\n{"name":\r\n'],
        // A route that reads no body, sent one that never comes (sweep 19: logged as an unhandled error).
        ["DELETE /v1/applications/00000000-0000-4000-8000-000000000000 HTTP/1.1", ["Transfer-Encoding: chunked"], ""],
        [`POST /in/${routeId} HTTP/1.1`, ["Content-Length: 100"], '{"name":'],
      ] as const) {
        const started = Date.now();
        const answer = await rawRequest(quick, [requestLine, "Host: 127.0.0.1", `Authorization: Bearer ${t.token}`, "Content-Type: application/json", ...headers], body, { waitMs: 10_000 });
        expect(answer.status, answer.text).toBe(408);
        expect(answer.headers["content-type"]).toBe("application/problem+json");
        expect(answer.headers["retry-after"]).toBeUndefined();
        expect(JSON.parse(answer.text.slice(answer.text.indexOf("{"), answer.text.lastIndexOf("}") + 1))).toMatchObject({ type: "urn:hookledger:problem:request-timeout", status: 408 });
        expect(answer.closedByServer).toBe(true);
        expect(Date.now() - started).toBeLessThan(9_000);
      }
      // The read the timeout cut short fails after the answer: not an error of ours, nor a report.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(errors).not.toHaveBeenCalled();
      expect(reports).not.toHaveBeenCalled();
      vi.restoreAllMocks();
    });

    it("keeps 503 timeout, with Retry-After, for a request whose body arrived and whose handler is slow on our side", async () => {
      const receiver = await startReceiver();
      try {
        receiver.respond("/slow", { status: 200, delayMs: 4000 });
        const subscription = await quick.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: receiver.url("/slow"), event_types: ["*"] });
        const response = await quick.call("POST", `/v1/subscriptions/${subscription.body.id}/test`, t.token, {});
        expect(response.status).toBe(503);
        expect(response.body).toMatchObject({ type: "urn:hookledger:problem:timeout" });
        expect(response.headers.get("retry-after")).toBe(String(TIMEOUT_RETRY_AFTER_SECONDS));
      } finally {
        await receiver.close();
      }
    });
  });

});

describe("top-level JSON values that are not objects", () => {
  it("refuses an array, string, number, boolean or null body with 400 naming (body) on every route that reads an object, and writes nothing", async () => {
    const before = await ledgerRows();
    const routes: [string, string][] = [
      ["POST", "/v1/pull/hostile/dequeue"],
      ["POST", `/v1/ingress-routes/${routeId}/secrets`],
      ["PATCH", `/v1/applications/${t.appId}`],
      ["PATCH", `/v1/ingress-routes/${routeId}`],
      ["PATCH", "/v1/pull-queues/hostile"],
      ["POST", `/v1/subscriptions/${subscriptionId}/secret/rotate`],
      ["POST", "/v1/applications"],
      ["POST", "/v1/events"],
    ];
    for (const [method, path] of routes) {
      for (const value of ["[]", "[{}]", '"x"', "1", "true", "null"]) {
        const response = await send(method, path, value, { "content-type": "application/json" });
        expect(response.status, `${method} ${path} ${value}: ${JSON.stringify(response.body)}`).toBe(400);
        expect(response.body.type).toBe("urn:hookledger:problem:validation");
        expect(response.body.errors).toEqual([{ field: "(body)", message: expect.stringMatching(/^expected a JSON object, got /) }]);
      }
    }
    expect(await ledgerRows()).toBe(before);
  });
});

describe("event type names at their length limit", () => {
  it("takes 150 characters, and refuses 151 to 200 with 400 naming the name (they once answered 500 when recorded)", async () => {
    const name = (length: number) => `long.${"n".repeat(length - 5)}`;
    const accepted = await app.call("POST", `/v1/applications/${t.appId}/event-types`, t.token, { name: name(150) });
    expect(accepted.status).toBe(201);
    expect((await app.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: name(150), payload: {} })).status).toBe(202);
    for (const length of [151, 153, 200]) {
      const refused = await app.call("POST", `/v1/applications/${t.appId}/event-types`, t.token, { name: name(length) });
      expect({ length, status: refused.status, errors: refused.body.errors }).toEqual({ length, status: 400, errors: [{ field: "name", message: "at most 150 characters" }] });
    }
  });
});

describe("bodies that are not JSON, or are compressed", () => {
  it("refuses a non-empty optional body that is not declared JSON with 415, and still takes an empty one", async () => {
    const optional: [string, string][] = [
      ["POST", "/v1/pull/hostile/dequeue"],
      ["POST", `/v1/subscriptions/${subscriptionId}/secret/rotate`],
      ["POST", "/v1/events/evt_none/replay"],
      ["POST", "/v1/pull/hostile/dead-letters/replay"],
    ];
    const form = new FormData();
    form.set("max_messages", "1");
    for (const [method, path] of optional) {
      for (const [body, type] of [
        ['{"max_messages":1}', "text/plain"],
        ["max_messages=1", "application/x-www-form-urlencoded"],
        ['{"max_messages":1}', undefined],
      ] as const) {
        const response = await send(method, path, body, type ? { "content-type": type } : {});
        expect(response.status, `${path} ${type}`).toBe(415);
        expect(response.body.type).toBe("urn:hookledger:problem:unsupported-media-type");
      }
      const multipart = await app.fetch(path, { method, headers: { authorization: `Bearer ${t.token}` }, body: form });
      expect(multipart.status, `${path} multipart`).toBe(415);
    }
    expect((await send("POST", "/v1/pull/hostile/dequeue", "")).status).toBe(200);
    expect((await send("POST", "/v1/pull/hostile/dequeue", "", { "content-type": "text/plain" })).status).toBe(200);
    expect((await send("POST", "/v1/pull/hostile/dequeue", '{"max_messages":1}', { "content-type": "application/json" })).status).toBe(200);
  });

  it("holds POSTs that take no body (or only optional fields) to the same rules: none, or {} as JSON; anything else is refused and nothing is done", async () => {
    const bodyless: string[] = [
      `/v1/subscriptions/${subscriptionId}/disable`,
      `/v1/subscriptions/${subscriptionId}/enable`,
      // Its body is optional ({event_type, payload}); a field it does not take is refused as elsewhere.
      `/v1/subscriptions/${subscriptionId}/test`,
      "/v1/deliveries/00000000-0000-4000-8000-000000000000/retry",
      "/v1/operational-webhooks",
      `/v1/applications/${t.appId}/portal-links`,
    ];
    const before = await ledgerRows();
    for (const path of bodyless) {
      const refusals: [string, Record<string, string>, number, string][] = [
        ["[1,2]", { "content-type": "application/json" }, 400, "validation"],
        ["{", { "content-type": "application/json" }, 400, "malformed-json"],
        ['{"reason":"cleanup"}', { "content-type": "application/json" }, 400, "validation"],
        ['{"reason":"cleanup"}', { "content-type": "text/plain" }, 415, "unsupported-media-type"],
      ];
      for (const [body, headers, status, type] of refusals) {
        const response = await send("POST", path, body, headers);
        expect({ path, body, status: response.status, type: response.body?.type }).toEqual({ path, body, status, type: `urn:hookledger:problem:${type}` });
      }
    }
    expect(await ledgerRows()).toBe(before);
    // An empty body, or {} declared as JSON, is taken.
    expect((await send("POST", `/v1/subscriptions/${subscriptionId}/disable`, "")).status).toBe(200);
    expect((await send("POST", `/v1/subscriptions/${subscriptionId}/enable`, "{}", { "content-type": "application/json" })).status).toBe(200);
  });

  it("refuses any Content-Encoding but identity on /v1 with 415 naming the header, and writes nothing", async () => {
    const before = await ledgerRows();
    const json = JSON.stringify({ name: "compressed" });
    for (const [encoding, body] of [
      ["gzip", gzipSync(json)],
      ["GZIP", gzipSync(json)],
      ["br", json],
      ["identity, gzip", gzipSync(json)],
      ["deflate", json],
    ] as const) {
      const response = await send("POST", "/v1/applications", body, { "content-type": "application/json", "content-encoding": encoding });
      expect(response.status, encoding).toBe(415);
      expect(response.headers.get("accept-encoding")).toBe("identity");
      expect(response.body.type).toBe("urn:hookledger:problem:unsupported-media-type");
      expect(response.body.errors).toEqual([{ field: "header.Content-Encoding", message: expect.stringContaining("only identity") }]);
    }
    const optional = await send("POST", "/v1/pull/hostile/dequeue", gzipSync("{}"), { "content-type": "application/json", "content-encoding": "gzip" });
    expect(optional.status).toBe(415);
    expect(await ledgerRows()).toBe(before);
    expect((await send("POST", "/v1/applications", json, { "content-type": "application/json", "content-encoding": "identity" })).status).toBe(201);
  });

  it("keeps /in byte-exact: a Content-Encoding is neither decoded nor refused there, and the bytes are stored as sent", async () => {
    const body = gzipSync('{"zipped":true}');
    const response = await app.fetch(`/in/${routeId}`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from("sender:s3cret-password-16").toString("base64")}`, "content-type": "application/json", "content-encoding": "gzip" },
      body,
    });
    expect(response.status).toBe(202);
    const { receipt_id: receiptId } = (await response.json()) as { receipt_id: string };
    const [receipt] = await db.owner<{ body: Buffer }[]>`select body from hookledger.ingress_receipts where receipt_id = ${receiptId}`;
    expect(Buffer.compare(receipt!.body, body)).toBe(0);
  });
});

describe("HEAD", () => {
  it("never runs the handler of a capability's route: 405 with Allow, and revealing a secret records nothing", async () => {
    const revealed = await ledgerRows("subscription.secret_revealed");
    const before = await ledgerRows();
    const head = await app.fetch(`/v1/subscriptions/${subscriptionId}/secret`, { method: "HEAD", headers: { authorization: `Bearer ${t.token}` } });
    expect(head.status).toBe(405);
    expect(head.headers.get("allow")).toBe("GET");
    expect(await ledgerRows("subscription.secret_revealed")).toBe(revealed);
    expect(await ledgerRows()).toBe(before);

    const heads: [string, string][] = [
      ["/v1/applications", "GET, POST"],
      [`/v1/applications/${t.appId}`, "GET, PATCH, DELETE"],
      [`/in/${routeId}`, "POST"],
      ["/console/sign-in", "GET, POST"],
      ["/portal/enter?link=anything", "GET"],
    ];
    for (const [path, allow] of heads) {
      const response = await app.fetch(path, { method: "HEAD", headers: { authorization: `Bearer ${t.token}` } });
      expect(response.status, path).toBe(405);
      expect(response.headers.get("allow"), path).toBe(allow);
    }
    // The service's own read-only routes still answer HEAD; unknown paths are still not found.
    expect((await app.fetch("/health", { method: "HEAD" })).status).toBe(200);
    expect((await app.fetch("/openapi.json", { method: "HEAD" })).status).toBe(200);
    expect((await app.fetch("/v1/no-such-thing", { method: "HEAD", headers: { authorization: `Bearer ${t.token}` } })).status).toBe(404);

    // GET still reveals, and records it.
    expect((await app.call("GET", `/v1/subscriptions/${subscriptionId}/secret`, t.token)).status).toBe(200);
    expect(await ledgerRows("subscription.secret_revealed")).toBe(revealed! + 1);
  });
});

describe("methods a path does not serve", () => {
  it("answer 405 with Allow (after authentication on /v1), and paths served by no method 404", async () => {
    const cases: [string, string, string][] = [
      ["PUT", "/v1/applications", "GET, POST"],
      ["DELETE", "/v1/applications", "GET, POST"],
      ["POST", `/v1/applications/${t.appId}`, "GET, PATCH, DELETE"],
      ["GET", `/in/${routeId}`, "POST"],
      ["DELETE", "/health", "GET"],
    ];
    for (const [method, path, allow] of cases) {
      const response = await app.fetch(path, { method, headers: { authorization: `Bearer ${t.token}` } });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get("allow"), path).toBe(allow);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(await response.json()).toMatchObject({ type: "urn:hookledger:problem:method-not-allowed", detail: `${method} is not served here; use ${allow}`, allow: allow.split(", ") });
    }
    // Without a token /v1 says nothing about its paths.
    expect((await app.fetch("/v1/applications", { method: "PUT" })).status).toBe(401);
    expect((await app.fetch("/v1/no-such-thing", { method: "PUT", headers: { authorization: `Bearer ${t.token}` } })).status).toBe(404);
    expect((await app.fetch("/no-such-thing", { method: "DELETE" })).status).toBe(404);
  });
});
