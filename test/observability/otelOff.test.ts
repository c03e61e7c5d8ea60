/**
 * Without OTLP settings nothing is exported, no @opentelemetry module is reachable by a static import from the
 * entry point (the SDK sits behind a dynamic import), and deliveries carry no trace header even for a
 * subscription that asked for one.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "../outbound/setup.ts";

const SRC = path.resolve(import.meta.dirname, "../../src");

/** Files reachable from `entry` through static runtime imports (`import type` and `import()` do not load a module). */
function staticallyReachable(entry: string): Map<string, string[]> {
  const reached = new Map<string, string[]>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (reached.has(file)) continue;
    const source = readFileSync(file, "utf8");
    const specifiers = [...source.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?["']([^"']+)["']/gm)].map((match) => match[1] as string);
    reached.set(file, specifiers);
    for (const specifier of specifiers) if (specifier.startsWith(".")) pending.push(path.resolve(path.dirname(file), specifier));
  }
  return reached;
}

describe("OpenTelemetry off", () => {
  it("keeps every @opentelemetry package out of the static import graph of the service", () => {
    const reached = staticallyReachable(path.join(SRC, "main.ts"));
    expect(reached.size).toBeGreaterThan(50);
    const offenders = [...reached].filter(([, specifiers]) => specifiers.some((s) => s.startsWith("@opentelemetry/"))).map(([file]) => path.relative(SRC, file));
    expect(offenders).toEqual([]);
    // The check sees the SDK modules, which do import it: they are only loaded dynamically.
    const sdk = staticallyReachable(path.join(SRC, "observability/otel/sdk.ts"));
    expect([...sdk.values()].flat().filter((s) => s.startsWith("@opentelemetry/")).length).toBeGreaterThan(3);
    expect(readdirSync(path.join(SRC, "observability/otel"))).toContain("sdk.ts");
  });

  describe("a running service", () => {
    let db: TestDatabase;
    let app: TestApp;
    let receiver: Receiver;
    beforeAll(async () => {
      db = await createTestDatabase();
      receiver = await startReceiver();
      app = await startTestApp(db, { worker: true, env: { OTEL_SERVICE_NAME: "configured-but-no-endpoint" } });
    });
    afterAll(async () => {
      await app?.stop();
      await receiver?.close();
      await db?.drop();
    });

    it("traces nothing and sends no traceparent, even to a subscription that opted in", async () => {
      expect(app.ctx.tracing.enabled).toBe(false);
      const t = await outboundTenant(app);
      receiver.respond("/untraced", { status: 500 }, { status: 200 });
      await t.subscribe({ url: receiver.url("/untraced"), send_traceparent: true, retry_schedule: [0.1] });
      const producerParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
      await app.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: "invoice.paid", event_id: "untraced_1", payload: {} }, { traceparent: producerParent });
      const requests = await receiver.waitFor(2, "/untraced");
      expect(requests.map((r) => r.headers.traceparent)).toEqual([undefined, undefined]);
      await eventually(async () => ((await app.call("GET", "/v1/events/untraced_1", t.token)).body.deliveries[0]?.status === "succeeded" ? true : undefined));
      const [row] = await db.owner<{ traceparent: string | null }[]>`select traceparent from hookledger.events where event_id = 'untraced_1'`;
      expect(row?.traceparent).toBeNull();
      const [entry] = await db.owner<{ data: Record<string, unknown> }[]>`select data from hookledger.ledger where type = 'event.received' and data->>'event_id' = 'untraced_1'`;
      expect(Object.keys(entry?.data ?? {})).not.toContain("traceparent");
    });
  });
});
