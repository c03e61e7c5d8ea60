/**
 * The organization's operational application: a reserved application (flagged `operational`) to which hookledger
 * publishes the operational events of operationalEvents.ts. The tenant subscribes to it through the ordinary
 * subscriptions API, so operational webhooks get the same signatures, retries, history and views as any other.
 *
 * It exists only once asked for (PUT /v1/operational-webhooks): an organization that never asked pays nothing
 * and its ledger holds no operational events.
 */
import type { AppContext } from "../context.ts";
import type { Queryable, Tx } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION, STREAM_DOES_NOT_EXIST } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { applicationStream } from "../tenancy/applications.ts";
import { randomUUID } from "node:crypto";
import { eventTypeStream } from "./eventTypes.ts";
import { OPERATIONAL_EVENT_TYPES, operationalBodySchema, operationalEvents } from "./operationalEvents.ts";

export const OPERATIONAL_APP_NAME = "operational-webhooks";

/** The id of the organization's operational application, if it has one. */
export async function findOperationalApp(tx: Queryable): Promise<string | undefined> {
  const [row] = await tx<{ app_id: string }[]>`
    select app_id from hookledger.applications
    where org_id = hookledger.current_org_id() and operational and deleted_at is null`;
  return row?.app_id;
}

/** Registers the operational event types the application lacks (all of them at creation; new ones after an upgrade). */
async function registerEventTypes(ctx: AppContext, tx: Tx, appId: string, meta: EntryMeta): Promise<void> {
  const existing = await tx<{ name: string }[]>`
    select name from hookledger.event_types where org_id = hookledger.current_org_id() and app_id = ${appId} and deleted_at is null`;
  const have = new Set(existing.map((row) => row.name));
  await ctx.ledger.recordMany(
    tx,
    OPERATIONAL_EVENT_TYPES.filter((name) => !have.has(name)).map((name) => ({
      stream: eventTypeStream(appId, name),
      expectedStreamVersion: ANY_VERSION,
      entries: [
        {
          type: "event_type.created",
          data: { app_id: appId, name, description: operationalEvents[name].description, schema: operationalBodySchema(name), deprecated: false },
          meta,
        },
      ],
    })),
  );
}

/**
 * Creates the operational application if the organization has none, and registers any operational event type
 * it lacks. Answers its id and whether it was created now.
 */
export async function enableOperationalWebhooks(ctx: AppContext, orgId: string, meta: EntryMeta): Promise<{ appId: string; created: boolean }> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    // Two concurrent first calls would both find none; the lock makes the second find the first's.
    await tx`select pg_advisory_xact_lock(hashtextextended('hookledger.operational_app:' || ${orgId}::text, 0))`;
    let appId = await findOperationalApp(tx);
    const created = appId === undefined;
    if (appId === undefined) {
      appId = randomUUID();
      await ctx.ledger.record(tx, applicationStream(appId), STREAM_DOES_NOT_EXIST, [
        {
          type: "application.created",
          data: {
            app_id: appId,
            name: OPERATIONAL_APP_NAME,
            description: "Operational events about this organization's endpoints and deliveries, published by hookledger.",
            metadata: {},
            operational: true,
          },
          meta,
        },
      ]);
    }
    await registerEventTypes(ctx, tx, appId, meta);
    return { appId, created };
  });
}
