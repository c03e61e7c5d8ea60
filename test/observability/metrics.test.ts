import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "../outbound/setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

const scrape = async (on: TestApp = app, headers: Record<string, string> = {}) => {
  const response = await on.fetch("/metrics", { headers });
  return { status: response.status, text: await response.text() };
};

describe("GET /metrics", () => {
  it("exposes ingestion, delivery, queue-lag and per-route HTTP metrics to loopback clients", async () => {
    const t = await outboundTenant(app);
    await t.subscribe({ url: receiver.url("/m") });
    await t.send({ event_id: "metrics_1" });
    await t.send({ event_id: "metrics_1" });
    await receiver.waitFor(1, "/m");
    await app.call("GET", "/v1/events/metrics_1", t.token);
    const metrics = await eventually(async () => {
      const { text } = await scrape();
      return text.includes('hookledger_delivery_attempts_total{outcome="succeeded",error_class="none"} 1') ? text : undefined;
    });
    expect(metrics).toContain('hookledger_events_ingested_total{outcome="new"} 1');
    expect(metrics).toContain('hookledger_events_ingested_total{outcome="duplicate"} 1');
    expect(metrics).toContain("hookledger_deliveries_scheduled_total 1");
    expect(metrics).toMatch(/hookledger_delivery_attempt_duration_seconds_count\{outcome="succeeded"\} 1/);
    expect(metrics).toMatch(/hookledger_delivery_queue_lag_seconds \d/);
    // Route patterns, never raw paths with ids.
    expect(metrics).toContain('hookledger_http_requests_total{method="GET",route="/v1/events/:event_id",status="200"} 1');
    expect(metrics).not.toContain("metrics_1");
  });

  it("refuses non-loopback clients unless a token is configured, and then requires it", async () => {
    const proxied = await startTestApp(db, { env: { HOOKLEDGER_TRUST_PROXY: "true" } });
    const tokened = await startTestApp(db, { env: { HOOKLEDGER_METRICS_TOKEN: "env:HOOKLEDGER_TEST_METRICS_TOKEN" } });
    try {
      expect((await scrape(proxied, { "x-forwarded-for": "203.0.113.9" })).status).toBe(403);
      expect((await scrape(tokened)).status).toBe(401);
      expect((await scrape(tokened, { authorization: "Bearer wrong-token" })).status).toBe(401);
      const ok = await scrape(tokened, { authorization: `Bearer ${process.env.HOOKLEDGER_TEST_METRICS_TOKEN}` });
      expect(ok.status).toBe(200);
      expect(ok.text).toContain("# TYPE process_cpu_seconds_total counter");
    } finally {
      await proxied.stop();
      await tokened.stop();
    }
  });

  it("names process and runtime metrics conventionally and prefixes only hookledger's own", async () => {
    const { text } = await scrape();
    const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1] ?? "");
    expect(names).toEqual(expect.arrayContaining(["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_heap_size_used_bytes", "hookledger_http_requests_total"]));
    expect(names.filter((name) => !/^(hookledger|process|nodejs)_/.test(name))).toEqual([]);
    expect(names.filter((name) => /^hookledger_(process|nodejs)_/.test(name))).toEqual([]);
  });
});
