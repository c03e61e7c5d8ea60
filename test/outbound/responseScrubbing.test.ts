/**
 * A receiver that echoes our request back must not hand a subscription's credentials to everyone who reads attempts:
 * its `Authorization` and API key, shown as `[redacted]` by the subscription's own answers, came back in clear in the
 * attempt's response headers and excerpt, through the API, the console, the portal and the append-only ledger
 * (sweep 20). The receiver's own credential-like headers (Set-Cookie) keep their names only.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let echo: Server;
let echoUrl: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  // Answers 500 with the request's headers as its JSON body, one of them echoed as a header, and a cookie of its own.
  echo = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      response.writeHead(500, { "content-type": "application/json", "set-cookie": "receiver_session=abcdef123456", "x-echo": String(request.headers.authorization) });
      // And the credential alone, without its scheme, as some error pages print it.
      response.end(JSON.stringify({ ...request.headers, credential: String(request.headers.authorization).split(" ")[1] }));
    });
  });
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}/echo`;
});
afterAll(async () => {
  await app?.stop();
  await new Promise((resolve) => echo?.close(resolve));
  await db?.drop();
});

describe("an attempt whose receiver echoes the request", () => {
  it("keeps what it answered without the credentials the request carried, in the API and the ledger", async () => {
    const t = await outboundTenant(app);
    const secrets = { authorization: "Bearer partner-key-123456", "x-api-key": 'key-with-"quote"-789' };
    const sub = await t.subscribe({ url: echoUrl, max_attempts: 1, event_types: ["invoice.paid"], headers: { ...secrets, "x-team": "billing" } });
    await t.send({ event_id: "echoed_1" });
    await t.settled("echoed_1", "failed");

    const [attempt] = (await app.call("GET", `/v1/attempts?subscription_id=${sub.id}`, t.token)).body.data;
    expect(attempt.response_headers["set-cookie"]).toBe("[redacted]");
    expect(attempt.response_headers["x-echo"]).toBe("[redacted]");
    const echoed = JSON.parse(attempt.response_excerpt) as Record<string, string>;
    expect(echoed).toMatchObject({ authorization: "[redacted]", credential: "[redacted]", "x-api-key": "[redacted]", "x-team": "billing" });
    const rows = await db.owner<{ data: string }[]>`select data::text from hookledger.ledger where org_id = ${t.orgId} and type = 'delivery.attempted'`;
    expect(rows).toHaveLength(1);
    for (const text of [JSON.stringify(attempt), rows[0]?.data ?? ""]) {
      expect(text).not.toContain("partner-key-123456");
      expect(text).not.toContain("key-with-");
      expect(text).not.toContain("abcdef123456");
    }
  });
});
