/** A rebuild applies many entries per statement; the result must not depend on how entries fall into batches. */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenant } from "../../src/db/tenant.ts";
import type { RecordedEntry } from "../../src/ledger/catalogue.ts";
import { deliveriesProjection } from "../../src/outbound/projections.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe("deliveries projection", () => {
  it("applies several attempts of one delivery in one batch in ledger order", async () => {
    const orgId = randomUUID();
    const deliveryId = randomUUID();
    const subscriptionId = randomUUID();
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
    const base = { orgId, stream: `delivery:${deliveryId}`, meta: {} };
    const attempted = (n: number, outcome: "failed" | "succeeded"): RecordedEntry => ({
      ...base,
      type: "delivery.attempted",
      version: n + 1,
      position: String(n + 1),
      recordedAt: at(n),
      data: {
        delivery_id: deliveryId, attempt_id: randomUUID(), event_id: "evt_batch", subscription_id: subscriptionId, attempt_number: n,
        outcome, status_code: outcome === "succeeded" ? 200 : 500, error_class: outcome === "succeeded" ? null : "http_status",
        error_message: null, duration_ms: 5, response_headers: {}, response_excerpt: null,
        next_attempt_at: outcome === "succeeded" ? null : at(n + 1).toISOString(),
      },
    });
    const entries: RecordedEntry[] = [
      { ...base, type: "delivery.scheduled", version: 1, position: "1", recordedAt: at(0), data: { delivery_id: deliveryId, event_id: "evt_batch", subscription_id: subscriptionId, app_id: randomUUID(), reason: "fanout" } },
      attempted(1, "failed"),
      attempted(2, "failed"),
      attempted(3, "succeeded"),
    ];
    const row = await withTenant(db.service, orgId, async (tx) => {
      await deliveriesProjection.apply(tx, entries);
      const [delivery] = await tx<{ status: string; attempts: number; last_status_code: number }[]>`
        select status, attempts, last_status_code from hookledger.deliveries where delivery_id = ${deliveryId}`;
      return delivery;
    });
    expect(row).toEqual({ status: "succeeded", attempts: 3, last_status_code: 200 });
  });
});
