/**
 * Values at and just past the edges of what a field can hold, on every route that takes one: instants that an
 * offset carries outside years 1-9999, and header values with characters a header cannot carry. Each is refused
 * with 400 naming the field, and the edge values themselves are accepted (no 500 from the database or the runtime).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../support/app.ts";
import type { TestDatabase } from "../support/database.ts";
import { routeWorld, type RouteWorld } from "./routeWorld.ts";

let db: TestDatabase;
let app: TestApp;
let t: RouteWorld["t"];
let subscriptionId: string;
let routeId: string;

beforeAll(async () => {
  ({ db, app, t, routeId, subscriptionId } = await routeWorld("edges", { auth: { type: "hmac", preset: "github" }, secret: "k" }));
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

/** Instants outside years 1-9999 once in UTC, though each is written with a four-digit year. */
const OUT_OF_RANGE = ["0000-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:30:00-00:31"];
const EARLIEST = "0001-01-01T00:00:00Z";
const LATEST = "9999-12-31T23:59:59.999Z";

/** 400 with a problem naming `field`. */
function refused(answer: { status: number; body: { errors?: { field: string }[] } }, field: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(400);
  expect(answer.body.errors?.map((error) => error.field)).toContain(field);
}

describe("timestamps", () => {
  const queries = () => [
    ["/v1/events", "since"],
    ["/v1/events", "until"],
    ["/v1/attempts", "since"],
    ["/v1/attempts", "until"],
    ["/v1/audit-log", "since"],
    ["/v1/audit-log", "until"],
    [`/v1/subscriptions/${subscriptionId}/deliveries`, "since"],
  ];

  it("refuses query instants outside years 1-9999 with 400 naming the parameter, and answers the edges", async () => {
    for (const [path, parameter] of queries()) {
      for (const value of OUT_OF_RANGE) refused(await app.call("GET", `${path}?${parameter}=${encodeURIComponent(value)}`, t.token), `query.${parameter}`);
      for (const value of [EARLIEST, LATEST]) expect((await app.call("GET", `${path}?${parameter}=${encodeURIComponent(value)}`, t.token)).status, `${path} ${parameter}=${value}`).toBe(200);
    }
  });

  it("refuses body instants outside years 1-9999 with 400 naming the field, and takes the edges", async () => {
    const event = (occurred_at: string) => app.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: "github.push", payload: {}, occurred_at });
    const recover = (since: string) => app.call("POST", `/v1/subscriptions/${subscriptionId}/recover`, t.token, { since });
    const token = (expires_at: string) => app.call("POST", "/v1/tokens", t.token, { label: "edge", scopes: ["events:read"], expires_at });
    const secret = (window: Record<string, string>) => app.call("POST", `/v1/ingress-routes/${routeId}/secrets`, t.token, { value: "edge-secret", ...window });
    for (const value of OUT_OF_RANGE) {
      refused(await event(value), "occurred_at");
      refused(await recover(value), "since");
      refused(await token(value), "expires_at");
      refused(await secret({ valid_from: value }), "valid_from");
      refused(await secret({ valid_until: value }), "valid_until");
    }
    expect((await event(EARLIEST)).status).toBe(202);
    expect((await event(LATEST)).status).toBe(202);
    expect((await recover(EARLIEST)).status).toBe(202);
    expect((await token(LATEST)).status).toBe(201);
    const added = await secret({ valid_from: EARLIEST, valid_until: LATEST });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    const changed = await app.call("PATCH", `/v1/ingress-routes/${routeId}/secrets/${added.body.id}`, t.token, { valid_until: OUT_OF_RANGE[2] });
    refused(changed, "valid_until");
  });
});

describe("calendar", () => {
  // Shaped like RFC 3339 but naming no real instant: the runtime's Date read 2026-02-30 as 2 March and stored that.
  const UNREAL = ["2026-02-30T00:00:00Z", "2027-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
    "2026-01-00T00:00:00Z", "2026-12-04T24:00:00Z", "2026-12-04T10:60:00Z", "2026-12-31T23:59:60Z", "2026-12-04T10:00:00+24:00", "2026-12-04T10:00:00-05:60"];

  it("refuses dates and times that do not exist with one message naming the field, in bodies and queries", async () => {
    for (const value of UNREAL) {
      const event = await app.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: "github.push", payload: {}, occurred_at: value });
      refused(event, "occurred_at");
      expect(event.body.errors, value).toEqual([{ field: "occurred_at", message: expect.stringMatching(/^not a real date and time/) }]);
      refused(await app.call("GET", `/v1/events?since=${encodeURIComponent(value)}`, t.token), "query.since");
    }
  });

  it("takes 29 February of leap years, and keeps the instant it was sent", async () => {
    for (const [value, instant] of [["2028-02-29T12:00:00Z", "2028-02-29T12:00:00.000Z"], ["2000-02-29T00:00:00+01:00", "2000-02-28T23:00:00.000Z"], ["2026-12-31T23:59:59.999-00:00", "2026-12-31T23:59:59.999Z"]] as const) {
      const event = await app.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: "github.push", payload: {}, occurred_at: value });
      expect(event.status, value).toBe(202);
      const shown = await app.call("GET", `/v1/events/${event.body.event_id}`, t.token);
      expect(shown.body.occurred_at).toBe(instant);
    }
    refused(await app.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: "github.push", payload: {}, occurred_at: "1900-02-29T00:00:00Z" }), "occurred_at");
  });
});

describe("header values", () => {
  const beyondLatin1 = ["\u0100", "😀", "a\u202eb"];
  const controls = ["\u0001", "a\u007fb", "\u001b[31m"];

  it("refuses header values a header cannot carry in a manual publish, and takes Latin-1", async () => {
    const publish = (headers: Record<string, string>) => app.call("POST", `/v1/ingress-routes/${routeId}/publish`, t.token, { body: "{}", headers });
    for (const value of [...beyondLatin1, ...controls, "a\r\nb", "a\u0000b"]) refused(await publish({ "x-edge": value }), "headers.x-edge");
    refused(await publish({ "content-type": "application/json; charset=\"😀\"" }), "headers.content-type");
    expect((await publish({ "x-edge": "zoë\tand café", "content-type": "application/json" })).status).toBe(202);
  });

  it("refuses them in a subscription's custom headers and an event's content type", async () => {
    const subscribe = (headers: Record<string, string>) =>
      app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: "http://127.0.0.1:9/h", event_types: ["github.push"], headers });
    for (const value of [...beyondLatin1, ...controls]) refused(await subscribe({ "x-edge": value }), "headers.x-edge");
    expect((await subscribe({ "x-edge": "café" })).status).toBe(201);
    const event = (content_type: string) => app.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: "github.push", payload: "x", content_type });
    refused(await event('text/plain; charset="😀"'), "content_type");
    refused(await event('text/plain; charset="\u0001"'), "content_type");
    expect((await event('text/plain; charset="latin-1 é"')).status).toBe(202);
  });
});
