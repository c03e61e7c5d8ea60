/**
 * A webhook received over mutual TLS names its sender's verified client certificate, as a pull lease over mutual
 * TLS names its consumer's: the `ingress.received` entry's meta and the receipt's `verification` (hence
 * GET …/receipts) carry `connection_identity`. A webhook over TLS without a certificate, or over plain HTTP, names
 * nobody. Before, the ingress door, the one where senders are identified by certificate, recorded nothing of it.
 *
 * Real listeners: the ingress and pull doors on TLS (verify_if_given) against a throw-away openssl PKI, and a
 * second process on the same database serving /in over plain HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { hasOpenssl, httpsCall, mintTestPki, type TestPki } from "../support/tlsClient.ts";
import { inboundTenant } from "./setup.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- ledger rows and API bodies are asserted field by field */

const IDENTITY = "CN=deploy-bot, O=Acme";
const basic = { authorization: `Basic ${Buffer.from("sender:correct horse battery").toString("base64")}` };

describe.skipIf(!hasOpenssl)("ingress receipts over mutual TLS", () => {
  let db: TestDatabase;
  let pki: TestPki;
  let app: TestApp;
  let plainApp: TestApp;
  let t: Awaited<ReturnType<typeof inboundTenant>>;
  let routeId = "";

  const urlOf = (door: string) => app.listeners.find((listener) => listener.door === door)?.url ?? "";
  const doorTls = (prefix: string) => ({
    [`${prefix}_LISTEN`]: "127.0.0.1:0",
    [`${prefix}_TLS_CERT`]: pki.file("server.pem"),
    [`${prefix}_TLS_KEY`]: pki.file("server.key"),
    [`${prefix}_TLS_CLIENT_CA`]: pki.file("ca.pem"),
    [`${prefix}_TLS_CLIENT_AUTH`]: "verify_if_given",
  });
  const receivedEntry = async (receiptId: string) =>
    (await db.owner<{ data: any; meta: any }[]>`select data, meta from hookledger.ledger where type = 'ingress.received' and data->>'receipt_id' = ${receiptId}`)[0];
  const listedReceipt = async (receiptId: string) => {
    const listed = await app.call("GET", `/v1/ingress-routes/${routeId}/receipts?limit=100`, t.token);
    expect(listed.status).toBe(200);
    return (listed.body.data as any[]).find((receipt) => receipt.id === receiptId);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = mintTestPki();
    app = await startTestApp(db, { env: { ...doorTls("HOOKLEDGER_INGRESS"), ...doorTls("HOOKLEDGER_PULL") } });
    plainApp = await startTestApp(db);
    t = await inboundTenant(app, "mTLS senders");
    await t.createQueue("mtls");
    routeId = (await t.createRoute({ auth: { type: "basic", username: "sender" }, secrets: [{ id: "pw", value: "correct horse battery" }], queue: "mtls" })).id;
  });
  afterAll(async () => {
    await plainApp?.stop();
    await app?.stop();
    pki?.remove();
    await db?.drop();
  });

  it("a verified client certificate: the entry's meta and the receipt name it, as the pull lease over mutual TLS does", async () => {
    const received = await httpsCall(pki, `${urlOf("ingress")}/in/${routeId}`, { method: "POST", headers: basic, body: { over: "mtls" }, client: "client" });
    expect(received.status).toBe(202);
    const receiptId: string = received.body.receipt_id;

    const dequeued = await httpsCall(pki, `${urlOf("pull")}/v1/pull/mtls/dequeue`, { method: "POST", headers: { authorization: `Bearer ${t.token}` }, body: { max_messages: 1 }, client: "client" });
    expect(dequeued.status).toBe(200);
    expect(dequeued.body.messages.map((message: any) => message.receipt.id)).toEqual([receiptId]);
    const [lease] = await db.owner<{ meta: any }[]>`select meta from hookledger.ledger where type = 'pull.message_leased' and data->>'message_id' = ${dequeued.body.messages[0].id}`;
    expect(lease?.meta.connection_identity).toBe(IDENTITY);

    const entry = await receivedEntry(receiptId);
    expect(entry?.meta.connection_identity).toBe(lease?.meta.connection_identity);
    expect(entry?.data.verification).toEqual({ method: "basic", secret_id: "pw", connection_identity: IDENTITY });
    expect((await listedReceipt(receiptId))?.verification).toEqual({ method: "basic", secret_id: "pw", connection_identity: IDENTITY });
  });

  it("a subject whose text would rewrite the audit log is recorded with U+FFFD in place of its overrides and controls", async () => {
    const received = await httpsCall(pki, `${urlOf("ingress")}/in/${routeId}`, { method: "POST", headers: basic, body: { over: "tricky" }, client: "tricky" });
    expect(received.status).toBe(202);
    const receiptId: string = received.body.receipt_id;
    const shown = "CN=deploy\uFFFDbot\uFFFD31m, O=Acme";
    expect((await receivedEntry(receiptId))?.meta.connection_identity).toBe(shown);
    expect((await listedReceipt(receiptId))?.verification.connection_identity).toBe(shown);
  });

  it("TLS without a client certificate names nobody", async () => {
    const received = await httpsCall(pki, `${urlOf("ingress")}/in/${routeId}`, { method: "POST", headers: basic, body: { over: "tls" } });
    expect(received.status).toBe(202);
    const entry = await receivedEntry(received.body.receipt_id);
    expect(entry?.meta).not.toHaveProperty("connection_identity");
    expect(entry?.data.verification).toEqual({ method: "basic", secret_id: "pw" });
    expect((await listedReceipt(received.body.receipt_id))?.verification).toEqual({ method: "basic", secret_id: "pw" });
  });

  it("plain HTTP names nobody", async () => {
    const response = await plainApp.fetch(`/in/${routeId}`, { method: "POST", headers: { ...basic, "content-type": "application/json" }, body: JSON.stringify({ over: "http" }) });
    expect(response.status).toBe(202);
    const { receipt_id: receiptId } = (await response.json()) as { receipt_id: string };
    const entry = await receivedEntry(receiptId);
    expect(entry?.meta).toHaveProperty("request_id");
    expect(entry?.meta).not.toHaveProperty("connection_identity");
    expect(entry?.data.verification).toEqual({ method: "basic", secret_id: "pw" });
    expect((await listedReceipt(receiptId))?.verification).toEqual({ method: "basic", secret_id: "pw" });
  });
});
