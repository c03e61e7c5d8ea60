/**
 * The process-wide budget of request bodies in memory (HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT, src/http/bodyBudget.ts):
 * each body was limited, their sum was not (a hostile-input sweep moved RSS from 121 MB to 372 MB with 40 slow
 * 10 MiB uploads). Slow uploads are raw sockets that send a head and part of a body and keep the connection open;
 * the budget is 1 MiB, so four 256 KiB `/v1` bodies or two 512 KiB ingress bodies fill it. Real Postgres, real HTTP.
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OVERLOADED_RETRY_AFTER_SECONDS } from "../../src/http/bodyBudget.ts";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { consoleSession } from "../support/consoleSession.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant } from "../inbound/setup.ts";

const BUDGET = 1024 * 1024;
const API_BODY = 256 * 1024;
const INGRESS_BODY = 512 * 1024;

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;
let routeId: string;

const budgetEnv = {
  HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT: String(BUDGET),
  HOOKLEDGER_MAX_BODY_BYTES: String(API_BODY),
  HOOKLEDGER_INGRESS_MAX_BODY_BYTES: String(INGRESS_BODY),
  HOOKLEDGER_MAX_EVENT_BYTES: "65536",
  // These tests fill the process's budget from one address; the per-client share has its own test below.
  HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT: String(BUDGET),
};

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { env: budgetEnv });
  t = await inboundTenant(app);
  await t.createQueue("inbox");
  routeId = (await t.createRoute({ auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }], queue: "inbox", max_body_bytes: INGRESS_BODY })).id;
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const basicAuth = `Authorization: Basic ${Buffer.from("sender:s3cret-password-16").toString("base64")}`;

interface RawAnswer {
  status?: number;
  headers: Record<string, string>;
  text: string;
  /** The server ended the connection (not us). */
  closedByServer: boolean;
}

/**
 * The first answer on `socket`: once its body is complete (Content-Length or a last chunk), or with `untilClosed`
 * once the socket closes.
 */
function firstAnswer(socket: Socket, untilClosed = false): Promise<RawAnswer> {
  return new Promise((resolve) => {
    let received = "";
    let closedByServer = false;
    let done = false;
    const parse = (): RawAnswer => {
      const split = received.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = (split < 0 ? received : received.slice(0, split)).split("\r\n");
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]));
      const status = /^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1];
      return { status: status ? Number(status) : undefined, headers, text: split < 0 ? "" : received.slice(split + 4), closedByServer };
    };
    const finish = () => {
      if (done) return;
      done = true;
      resolve(parse());
    };
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      const answer = parse();
      const length = answer.headers["content-length"];
      if (untilClosed || answer.status === undefined || !received.includes("\r\n\r\n")) return;
      if ((length !== undefined && answer.text.length >= Number(length)) || answer.text.endsWith("0\r\n\r\n")) finish();
    });
    socket.on("end", () => {
      closedByServer = true;
    });
    socket.on("close", finish);
    socket.on("error", () => undefined);
  });
}

/** A client that sends a request's head and the start of its body, and the rest (or nothing) later. */
function slowUpload(head: string[], start: string, target: TestApp = app, localAddress = "127.0.0.1") {
  const socket = connect({ port: Number(new URL(target.baseUrl).port), host: "127.0.0.1", localAddress });
  socket.on("error", () => undefined);
  socket.on("connect", () => socket.write(`${head.join("\r\n")}\r\n\r\n${start}`));
  const answer = firstAnswer(socket);
  return {
    /** The server's answer, without sending more. */
    answer,
    /** Sends the rest of the body and answers the response. */
    async finish(rest: string): Promise<RawAnswer> {
      socket.write(rest);
      const got = await answer;
      socket.destroy();
      return got;
    },
    /** The client goes away mid-body. */
    disconnect() {
      socket.destroy();
    },
  };
}

/**
 * Sends a request's head only — a body is declared, none sent — and answers what the server said before it closed
 * the connection. A server that waited for the body (or kept the connection) would not close it: after 10 s the
 * client gives up, and the answer says the server did not close.
 */
function headOnly(head: string[], target: TestApp = app, localAddress = "127.0.0.1"): Promise<RawAnswer> {
  const socket = connect({ port: Number(new URL(target.baseUrl).port), host: "127.0.0.1", localAddress });
  socket.on("error", () => undefined);
  socket.on("connect", () => socket.write(`${head.join("\r\n")}\r\n\r\n`));
  const giveUp = setTimeout(() => socket.destroy(), 10_000);
  return firstAnswer(socket, true).finally(() => clearTimeout(giveUp));
}

const scraped = async (name: string, target: TestApp = app): Promise<number> => {
  const text = await target.ctx.metrics.registry.metrics();
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? "NaN");
};
/** A counter's value for one label set (0 before its first increment). */
const scrapedWith = async (name: string, labels: string, target: TestApp = app): Promise<number> => {
  const text = await target.ctx.metrics.registry.metrics();
  return Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, "m").exec(text)?.[1] ?? "0");
};
const untilInFlight = (bytes: number, target: TestApp = app) =>
  eventually(async () => ((await scraped("hookledger_request_body_bytes_in_flight", target)) === bytes ? true : undefined), 10_000, `${bytes} bytes in flight`);

/** JSON text of exactly `bytes` bytes (trailing spaces are JSON whitespace). */
const paddedJson = (value: unknown, bytes: number) => JSON.stringify(value).padEnd(bytes, " ");

const apiHead = (length: number) => [`POST /v1/applications HTTP/1.1`, "Host: 127.0.0.1", `Authorization: Bearer ${t.token}`, "Content-Type: application/json", `Content-Length: ${length}`];
const ingressHead = (length: number) => [`POST /in/${routeId} HTTP/1.1`, "Host: 127.0.0.1", basicAuth, "Content-Type: application/json", `Content-Length: ${length}`];

/** What a request that does not fit gets, before its body is sent: 503 overloaded problem+json, and the connection closed. */
async function expectRefusedUnread(head: string[]) {
  const answer = await headOnly(head);
  expect(answer.status, answer.text).toBe(503);
  expect(answer.headers["content-type"]).toBe("application/problem+json");
  expect(answer.headers["retry-after"]).toBe(String(OVERLOADED_RETRY_AFTER_SECONDS));
  expect(answer.headers.connection?.toLowerCase()).toBe("close");
  expect(JSON.parse(answer.text.slice(answer.text.indexOf("{"), answer.text.lastIndexOf("}") + 1))).toMatchObject({ type: "urn:hookledger:problem:overloaded", status: 503 });
  expect(answer.closedByServer).toBe(true);
}

/** Requests without a body, and with one of length 0, still work while the budget is full. */
async function expectBodilessServed() {
  expect((await app.fetch("/health")).status).toBe(200);
  expect((await app.call("GET", "/v1/applications", t.token)).status).toBe(200);
  expect((await app.call("GET", `/v1/ingress-routes/${routeId}`, t.token)).status).toBe(200);
  // Content-Length: 0 reserves nothing: the route's own answer (no JSON content type), not overloaded.
  expect((await app.fetch("/v1/applications", { method: "POST", headers: { authorization: `Bearer ${t.token}` } })).status).toBe(415);
}

const small = JSON.stringify({ name: "after" });

describe("the budget of request bodies in flight", () => {
  it("refuses a /v1, ingress or console form body with 503 overloaded while slow /v1 uploads hold the budget, and serves it once they finish", async () => {
    const refusedBefore = await scrapedWith("hookledger_request_bodies_refused_total", 'limit="process"');
    const consoleUser = await consoleSession(app, t.token);
    const consoleForm = () => consoleUser.post(`/console/applications/${t.appId}/new-subscription`, "url=not-a-url&event_types=github.push");
    const uploads = [0, 1, 2].map((i) => slowUpload(apiHead(API_BODY), `{"name":"slow-${i}"`));
    // A chunked body reserves its limit, HOOKLEDGER_MAX_BODY_BYTES.
    const chunked = slowUpload(["POST /v1/applications HTTP/1.1", "Host: 127.0.0.1", `Authorization: Bearer ${t.token}`, "Content-Type: application/json", "Transfer-Encoding: chunked"], "1\r\n{\r\n");
    await untilInFlight(BUDGET);

    await expectRefusedUnread(apiHead(small.length));
    await expectRefusedUnread(ingressHead(10));
    const refused = await app.call("POST", "/v1/applications", t.token, { name: "refused" });
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ type: "urn:hookledger:problem:overloaded", retry_after_seconds: OVERLOADED_RETRY_AFTER_SECONDS });
    // A console form is held in the same budget; the console's pages are still served.
    const form = await consoleForm();
    expect(form.status).toBe(503);
    expect(await form.json()).toMatchObject({ type: "urn:hookledger:problem:overloaded" });
    expect((await consoleUser.get("/console/overview")).status).toBe(200);
    await expectBodilessServed();
    expect(await scrapedWith("hookledger_request_bodies_refused_total", 'limit="process"')).toBe(refusedBefore + 4);

    const rest = '"name":"slow-chunked"}';
    const finished = await Promise.all([
      ...uploads.map((upload, i) => upload.finish(paddedJson({ name: `slow-${i}` }, API_BODY).slice(`{"name":"slow-${i}"`.length))),
      chunked.finish(`${rest.length.toString(16)}\r\n${rest}\r\n0\r\n\r\n`),
    ]);
    expect(finished.map((answer) => answer.status)).toEqual([201, 201, 201, 201]);
    await untilInFlight(0);
    const served = await app.call("POST", "/v1/applications", t.token, { name: "after" });
    expect(served.status, JSON.stringify(served.body)).toBe(201);
    const received = await app.fetch(`/in/${routeId}`, { method: "POST", headers: { authorization: basicAuth.slice("Authorization: ".length), "content-type": "application/json" }, body: "{}" });
    expect(received.status).toBe(202);
    // The form's own answer: its url is refused (a 400 page), not the budget.
    expect((await consoleForm()).status).toBe(400);
  });

  it("refuses a body while slow ingress uploads hold the budget, and gives their reservations back when they finish or their clients leave", async () => {
    const leaving = slowUpload(ingressHead(INGRESS_BODY), "{");
    const staying = slowUpload(ingressHead(INGRESS_BODY), "{");
    await untilInFlight(BUDGET);

    await expectRefusedUnread(ingressHead(10));
    await expectRefusedUnread(apiHead(small.length));
    await expectBodilessServed();

    leaving.disconnect();
    await untilInFlight(INGRESS_BODY);
    // Half the budget is back: a body of the route's largest size fits again.
    const fits = await app.fetch(`/in/${routeId}`, { method: "POST", headers: { authorization: basicAuth.slice("Authorization: ".length), "content-type": "application/json" }, body: paddedJson({ fits: true }, INGRESS_BODY - 1) });
    expect(fits.status).toBe(202);

    const finished = await staying.finish(paddedJson({ slow: true }, INGRESS_BODY).slice(1));
    expect(finished.status, finished.text).toBe(202);
    await untilInFlight(0);
    const receipts = await app.call("GET", `/v1/ingress-routes/${routeId}/receipts`, t.token);
    expect(receipts.body.data.some((receipt: { body_base64: string }) => Buffer.from(receipt.body_base64, "base64").toString().startsWith('{"slow":true}'))).toBe(true);
  });

  it("gives back the reservations of /v1 uploads whose clients leave mid-body", async () => {
    const uploads = [0, 1, 2, 3].map((i) => slowUpload(apiHead(API_BODY), `{"name":"gone-${i}"`));
    await untilInFlight(BUDGET);
    await expectRefusedUnread(apiHead(small.length));
    for (const upload of uploads) upload.disconnect();
    await untilInFlight(0);
    expect((await app.call("POST", "/v1/applications", t.token, { name: "after-leaving" })).status).toBe(201);
  });

  describe("with a short request timeout", () => {
    let quick: TestApp;
    beforeAll(async () => {
      quick = await startTestApp(db, { env: { ...budgetEnv, HOOKLEDGER_REQUEST_TIMEOUT_MS: "1500" } });
    });
    afterAll(async () => {
      await quick?.stop();
    });

    it("gives back the reservations of uploads that stall until the request timeout answers them 408", async () => {
      const chunkedHead = ["POST /v1/applications HTTP/1.1", "Host: 127.0.0.1", `Authorization: Bearer ${t.token}`, "Content-Type: application/json", "Transfer-Encoding: chunked"];
      const stalled = [slowUpload(apiHead(API_BODY), "{", quick), slowUpload(chunkedHead, "1\r\n{\r\n", quick), slowUpload(ingressHead(INGRESS_BODY), "{", quick)];
      await untilInFlight(BUDGET, quick);
      expect((await Promise.all(stalled.map((upload) => upload.answer))).map((answer) => answer.status)).toEqual([408, 408, 408]);
      await untilInFlight(0, quick);
    });
  });

  describe("with a share per client", () => {
    let shared: TestApp;
    // Half the budget per address: two slow 256 KiB /v1 uploads fill one client's share.
    const SHARE = BUDGET / 2;
    beforeAll(async () => {
      // One trusted proxy: clients named by X-Forwarded-For below; without it, the socket's address as before.
      shared = await startTestApp(db, { env: { ...budgetEnv, HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT: String(SHARE), HOOKLEDGER_TRUST_PROXY: "1" } });
    });
    afterAll(async () => {
      await shared?.stop();
    });

    it("refuses a client past its share with 429, unread, while another client's bodies are served", async () => {
      const refusedBefore = await scrapedWith("hookledger_request_bodies_refused_total", 'limit="client"', shared);
      // The greedy client is 127.0.0.2 (another loopback address); the others connect from 127.0.0.1.
      const uploads = [0, 1].map((i) => slowUpload(apiHead(API_BODY), `{"name":"greedy-${i}"`, shared, "127.0.0.2"));
      await untilInFlight(SHARE, shared);

      const refused = await headOnly(apiHead(small.length), shared, "127.0.0.2");
      expect(refused.status, refused.text).toBe(429);
      expect(refused.headers["content-type"]).toBe("application/problem+json");
      expect(refused.headers["retry-after"]).toBe(String(OVERLOADED_RETRY_AFTER_SECONDS));
      expect(refused.headers.connection?.toLowerCase()).toBe("close");
      expect(JSON.parse(refused.text.slice(refused.text.indexOf("{"), refused.text.lastIndexOf("}") + 1))).toMatchObject({ type: "urn:hookledger:problem:rate-limited", status: 429 });
      expect(refused.closedByServer).toBe(true);
      expect((await headOnly(ingressHead(10), shared, "127.0.0.2")).status).toBe(429);
      expect(await scrapedWith("hookledger_request_bodies_refused_total", 'limit="client"', shared)).toBe(refusedBefore + 2);

      // Everyone else still has the rest of the budget: a /v1 body and a webhook from 127.0.0.1.
      expect((await shared.call("POST", "/v1/applications", t.token, { name: "polite" })).status).toBe(201);
      const received = await shared.fetch(`/in/${routeId}`, { method: "POST", headers: { authorization: basicAuth.slice("Authorization: ".length), "content-type": "application/json" }, body: "{}" });
      expect(received.status).toBe(202);

      // The greedy client's share comes back as its uploads finish.
      const finished = await Promise.all(uploads.map((upload, i) => upload.finish(paddedJson({ name: `greedy-${i}` }, API_BODY).slice(`{"name":"greedy-${i}"`.length))));
      expect(finished.map((answer) => answer.status)).toEqual([201, 201]);
      await untilInFlight(0, shared);
      const again = slowUpload(apiHead(small.length), small.slice(0, 1), shared, "127.0.0.2");
      await untilInFlight(small.length, shared);
      expect((await again.finish(small.slice(1))).status).toBe(201);
    });

    it("counts an IPv6 client's share per /64: another address of the same network is the same client", async () => {
      // Every address of a /64 is its holder's to use: keyed by the whole address, each upload was a new client's.
      const from = (address: string) => (head: string[]) => [...head, `X-Forwarded-For: ${address}`];
      const uploads = ["2001:db8:1:2::a", "2001:db8:1:2:ffff::b"].map((address, i) => slowUpload(from(address)(apiHead(API_BODY)), `{"name":"v6-${i}"`, shared));
      await untilInFlight(SHARE, shared);
      for (const address of ["2001:db8:1:2::c", "2001:0db8:0001:0002:1234:5678:9abc:def0"]) {
        const refused = await headOnly(from(address)(apiHead(small.length)), shared);
        expect(refused.status, `${address}: ${refused.text}`).toBe(429);
      }
      // Another /64, and an IPv4 client written as an IPv4-mapped address, are other clients.
      for (const address of ["2001:db8:1:3::1", "::ffff:198.51.100.7"]) {
        const served = slowUpload(from(address)(apiHead(small.length)), small.slice(0, 1), shared);
        await untilInFlight(SHARE + small.length, shared);
        const answer = await served.finish(small.slice(1));
        expect(answer.status, `${address}: ${answer.text}`).toBe(201);
      }
      const finished = await Promise.all(uploads.map((upload, i) => upload.finish(paddedJson({ name: `v6-${i}` }, API_BODY).slice(`{"name":"v6-${i}"`.length))));
      expect(finished.map((answer) => answer.status)).toEqual([201, 201]);
      await untilInFlight(0, shared);
    });
  });
});
