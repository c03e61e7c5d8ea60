/**
 * Every door that reads a request body as text reads UTF-8 only, so one declared in another charset is refused with
 * 415 `unsupported-media-type` naming `header.Content-Type`, before its body is read, rather than read as UTF-8 —
 * text the client did not mean. UTF-8 may be spelt `utf-8` or `utf8`, in any case, quoted or not, or not given;
 * an empty `charset=` is refused. Doors: a `/v1` JSON body, an optional one, a POST that takes none, the same with
 * an `Idempotency-Key` (a repeat is refused, not answered from the key), the portal's JSON API, the console's
 * sign-in form, its forms in a session, the portal's forms. `POST /in/…` records bytes whatever they declare.
 */
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant } from "../inbound/setup.ts";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;
let subscriptionId: string;
let routeId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  t = await inboundTenant(app);
  await t.createQueue("inbox");
  routeId = (await t.createRoute({ auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }], queue: "inbox" })).id;
  subscriptionId = (await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: "http://127.0.0.1:9/hook", event_types: ["github.push"] })).body.id;
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

/** Declared in another charset, or in none that names one: each is refused. */
const REFUSED = ["charset=utf-16", "charset=UTF-16LE", "charset=iso-8859-1", 'charset="latin1"', "charset=", 'charset=""', "charset=utf-8; charset=utf-16"];
/** UTF-8, however it is spelt. */
const ACCEPTED = ["charset=utf-8", 'charset="UTF-8"', "charset=utf8", "CHARSET=Utf8", "charset = utf-8"];

const utf16 = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
const latin1 = (text: string) => Buffer.from(text, "latin1");
/** The body as the declared charset would write it, so a door that read it as UTF-8 would misread it. */
const encoded = (parameter: string, text: string): Uint8Array => (/utf-16/i.test(parameter) && !/utf-8/i.test(parameter) ? utf16(text) : /latin1|8859/i.test(parameter) ? latin1(text) : Buffer.from(text, "utf8"));

/** Sends `body` as it is; to `/v1` with the tenant's token, elsewhere with `headers` alone (a session's cookie). */
async function send(method: string, path: string, contentType: string, body: Uint8Array | string, headers: Record<string, string> = {}) {
  const bearer: Record<string, string> = path.startsWith("/v1/") ? { authorization: `Bearer ${t.token}` } : {};
  const response = await app.fetch(path, { method, headers: { ...bearer, "content-type": contentType, ...headers }, body: body as BodyInit, redirect: "manual" });
  const text = await response.text();
  return { status: response.status, type: response.headers.get("content-type"), text, json: () => JSON.parse(text) as { type: string; errors: { field: string; message: string }[] } };
}

function expectRefused(answer: Awaited<ReturnType<typeof send>>, what: string): void {
  expect(answer.status, `${what}: ${answer.text}`).toBe(415);
  expect(answer.type, what).toContain("application/problem+json");
  const problem = answer.json();
  expect(problem.type, what).toBe("urn:hookledger:problem:unsupported-media-type");
  expect(problem.errors, what).toEqual([{ field: "header.Content-Type", message: expect.stringMatching(/charset/) }]);
}

const cookieOf = (response: Response, name: string) => (response.headers.getSetCookie().find((value) => value.startsWith(`${name}=`)) ?? "").split(";")[0] as string;
const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";

const ledgerCount = async () => (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where org_id = ${t.orgId}`)[0]?.n ?? 0;

describe("JSON doors", () => {
  it("a JSON body: refused in another charset, taken in UTF-8 however spelt", async () => {
    const before = await ledgerCount();
    for (const parameter of REFUSED) expectRefused(await send("POST", "/v1/applications", `application/json; ${parameter}`, encoded(parameter, '{"name":"café"}')), parameter);
    expect(await ledgerCount()).toBe(before);
    for (const parameter of ACCEPTED) {
      const answer = await send("POST", "/v1/applications", `application/json; ${parameter}`, '{"name":"café"}');
      expect(answer.status, `${parameter}: ${answer.text}`).toBe(201);
      expect(JSON.parse(answer.text).name).toBe("café");
    }
  });

  it("an optional JSON body and a POST that takes none: refused in another charset before the body is read, empty or not", async () => {
    for (const parameter of REFUSED) {
      expectRefused(await send("POST", "/v1/pull/inbox/dequeue", `application/json; ${parameter}`, encoded(parameter, '{"max_messages":1}')), `dequeue ${parameter}`);
      expectRefused(await send("POST", "/v1/pull/inbox/dequeue", `application/json; ${parameter}`, ""), `empty dequeue ${parameter}`);
      expectRefused(await send("POST", `/v1/subscriptions/${subscriptionId}/disable`, `application/json; ${parameter}`, encoded(parameter, "{}")), `disable ${parameter}`);
    }
    for (const parameter of ACCEPTED) {
      expect((await send("POST", "/v1/pull/inbox/dequeue", `application/json; ${parameter}`, '{"max_messages":1}')).status, parameter).toBe(200);
      expect((await send("POST", `/v1/subscriptions/${subscriptionId}/enable`, `application/json; ${parameter}`, "{}")).status, parameter).toBe(200);
    }
  });

  it("with an Idempotency-Key: refused before the key is looked at, also where a repeat would have been answered from it", async () => {
    const first = await send("POST", "/v1/applications", "application/json", '{"name":"keyed"}', { "idempotency-key": "charset-1" });
    expect(first.status).toBe(201);
    for (const [i, parameter] of REFUSED.entries()) {
      expectRefused(await send("POST", "/v1/applications", `application/json; ${parameter}`, '{"name":"keyed"}', { "idempotency-key": "charset-1" }), parameter);
      expectRefused(await send("POST", "/v1/applications", `application/json; ${parameter}`, '{"name":"keyed"}', { "idempotency-key": `charset-new-${i}` }), parameter);
    }
    const repeat = await send("POST", "/v1/applications", "application/json; charset=utf8", '{"name":"keyed"}', { "idempotency-key": "charset-1" });
    expect(repeat.status).toBe(201);
    expect(repeat.text).toBe(first.text);
  });

  it("the portal's JSON API", async () => {
    for (const parameter of REFUSED) {
      expectRefused(await send("PATCH", "/v1/portal-settings", `application/json; ${parameter}`, encoded(parameter, '{"allowed_origins":[]}')), `settings ${parameter}`);
      expectRefused(await send("POST", `/v1/applications/${t.appId}/portal-links`, `application/json; ${parameter}`, ""), `link ${parameter}`);
    }
    for (const parameter of ACCEPTED) {
      expect((await send("PATCH", "/v1/portal-settings", `application/json; ${parameter}`, '{"allowed_origins":[]}')).status, parameter).toBe(200);
    }
  });
});

describe("form doors", () => {
  /** A console session's cookie and form token, from the sign-in form as a browser gets them. */
  let session: { cookie: string; csrf: string };
  beforeAll(async () => {
    const form = await app.fetch("/console/sign-in");
    const formCookie = cookieOf(form, "hl_console_form");
    const signedIn = await app.fetch("/console/sign-in", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: formCookie },
      body: new URLSearchParams({ csrf: csrfOf(await form.text()), token: t.token }).toString(),
      redirect: "manual",
    });
    const cookie = cookieOf(signedIn, "hl_console");
    session = { cookie, csrf: csrfOf(await (await app.fetch("/console/overview", { headers: { cookie } })).text()) };
  });

  const postForm = (path: string, contentType: string, fields: string) =>
    send("POST", path, contentType, `csrf=${encodeURIComponent(session.csrf)}&${fields}`, { cookie: session.cookie });

  it("the console's sign-in form: refused in another charset, no session started", async () => {
    const sessions = async () => (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where type = 'console.session_started'`)[0]?.n ?? 0;
    const before = await sessions();
    for (const parameter of REFUSED) {
      expectRefused(await send("POST", "/console/sign-in", `application/x-www-form-urlencoded; ${parameter}`, `csrf=x&token=${encodeURIComponent(t.token)}`), parameter);
    }
    expect(await sessions()).toBe(before);
    for (const parameter of ACCEPTED) {
      // Taken (and refused for its form token, as any sign-in without the form's cookie is): not a 415.
      const answer = await send("POST", "/console/sign-in", `application/x-www-form-urlencoded; ${parameter}`, `csrf=x&token=x`);
      expect(answer.status, parameter).toBe(403);
    }
  });

  it("a console form in a session: refused in another charset with nothing written, taken in UTF-8", async () => {
    const path = `/console/applications/${t.appId}/new-subscription`;
    const before = await ledgerCount();
    for (const parameter of REFUSED) {
      // Latin-1 é is %E9 once percent-encoded; a door reading it as UTF-8 refused it as not UTF-8, or worse.
      const fields = /latin1|8859/i.test(parameter) ? "url=http%3A%2F%2F127.0.0.1%3A9%2Fcaf%E9&event_types=*" : "url=http%3A%2F%2F127.0.0.1%3A9%2Fform&event_types=*";
      expectRefused(await postForm(path, `application/x-www-form-urlencoded; ${parameter}`, fields), parameter);
    }
    expect(await ledgerCount()).toBe(before);
    for (const [i, parameter] of ACCEPTED.entries()) {
      const answer = await postForm(path, `application/x-www-form-urlencoded; ${parameter}`, `url=http%3A%2F%2F127.0.0.1%3A9%2Fform-${i}&event_types=*`);
      expect(answer.status, `${parameter}: ${answer.text.slice(0, 300)}`).toBe(200);
      expect(answer.text).toContain("Endpoint added");
    }
  });

  it("a content-coded form: refused 415 naming Content-Encoding, as a /v1 body is, with nothing written", async () => {
    const path = `/console/applications/${t.appId}/new-subscription`;
    const before = await ledgerCount();
    const fields = `csrf=${encodeURIComponent(session.csrf)}&url=http%3A%2F%2F127.0.0.1%3A9%2Fcoded&event_types=*`;
    for (const coding of ["gzip", "identity, gzip", "br"]) {
      const body = coding === "br" ? fields : gzipSync(fields);
      const answer = await send("POST", path, "application/x-www-form-urlencoded", body, { cookie: session.cookie, "content-encoding": coding });
      expect(answer.status, coding).toBe(415);
      expect(answer.json().errors, coding).toEqual([{ field: "header.Content-Encoding", message: expect.stringContaining("not supported") }]);
    }
    const signIn = await send("POST", "/console/sign-in", "application/x-www-form-urlencoded", gzipSync("csrf=x&token=x"), { "content-encoding": "gzip" });
    expect(signIn.status).toBe(415);
    expect(await ledgerCount()).toBe(before);
    const identity = await send("POST", path, "application/x-www-form-urlencoded", fields, { cookie: session.cookie, "content-encoding": "identity" });
    expect(identity.status).toBe(200);
  });

  it("a portal form: refused in another charset", async () => {
    const minted = await app.call("POST", `/v1/applications/${t.appId}/portal-links`, t.token);
    const link = new URL(minted.body.url);
    const entered = await app.fetch(link.pathname + link.search, { redirect: "manual" });
    const cookie = cookieOf(entered, "hl_portal");
    const page = await app.fetch(`/portal/applications/${t.appId}/new-subscription`, { headers: { cookie } });
    expect(page.status).toBe(200);
    const csrf = csrfOf(await page.text());
    const before = await ledgerCount();
    for (const parameter of REFUSED) {
      const answer = await send("POST", `/portal/applications/${t.appId}/new-subscription`, `application/x-www-form-urlencoded; ${parameter}`, `csrf=${encodeURIComponent(csrf)}&url=http%3A%2F%2F127.0.0.1%3A9%2Fportal&event_types=*`, { cookie });
      expectRefused(answer, parameter);
    }
    expect(await ledgerCount()).toBe(before);
    const taken = await send("POST", `/portal/applications/${t.appId}/new-subscription`, "application/x-www-form-urlencoded; charset=utf8", `csrf=${encodeURIComponent(csrf)}&url=http%3A%2F%2F127.0.0.1%3A9%2Fportal&event_types=*`, { cookie });
    expect(taken.status).toBe(200);
  });
});

describe("the ingress door", () => {
  it("records a body declared in any charset byte for byte, as before", async () => {
    const body = utf16('{"name":"café"}');
    const response = await app.fetch(`/in/${routeId}`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-16", authorization: `Basic ${Buffer.from("sender:s3cret-password-16").toString("base64")}` },
      body,
    });
    expect(response.status).toBe(202);
    const { receipt_id: receiptId } = (await response.json()) as { receipt_id: string };
    const [entry] = await db.owner<{ data: { body_base64: string; content_type: string } }[]>`
      select data from hookledger.ledger where type = 'ingress.received' and data->>'receipt_id' = ${receiptId}`;
    expect(Buffer.from(entry!.data.body_base64, "base64").equals(body)).toBe(true);
    expect(entry!.data.content_type).toBe("application/json; charset=utf-16");
  });
});
