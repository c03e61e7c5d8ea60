/**
 * Event types per application: commands (ledger entries) and reads.
 *
 * Commands read what they decide on with a row lock in the same statement: an event type's own row for changes
 * and deletion, its application's row for creation (a new name has no row to lock yet). So concurrent commands are
 * decided one after another, as if sent in turn: of twenty creates of one name, one is 201 and the others are the
 * 409 a later create gets, and the stored schema is the one answered.
 */
import { namesAChange } from "../collections/namesAChange.ts";
import type { AppContext } from "../context.ts";
import type { Queryable } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { getApplicationForChange } from "../tenancy/applications.ts";

export interface EventType {
  name: string;
  app_id: string;
  description: string | null;
  schema: Record<string, unknown> | null;
  deprecated: boolean;
  created_at: Date;
  updated_at: Date;
}

export const eventTypeStream = (appId: string, name: string) => `event_type:${appId}:${name}`;

const eventTypeColumns = "name, app_id, description, schema, deprecated, created_at, updated_at";

export async function getEventType(tx: Queryable, appId: string, name: string): Promise<EventType | undefined> {
  const [row] = await tx<EventType[]>`
    select ${tx.unsafe(eventTypeColumns)} from hookledger.event_types
    where org_id = hookledger.current_org_id() and app_id = ${appId} and name = ${name} and deleted_at is null`;
  return row;
}

/** A live event type, read and locked against other changes until the transaction ends (see the module comment). */
export async function getEventTypeForChange(tx: Queryable, appId: string, name: string): Promise<EventType | undefined> {
  const [row] = await tx<EventType[]>`
    select ${tx.unsafe(eventTypeColumns)} from hookledger.event_types
    where org_id = hookledger.current_org_id() and app_id = ${appId} and name = ${name} and deleted_at is null
    for no key update`;
  return row;
}

export async function listEventTypes(
  tx: Queryable,
  appId: string,
  options: { limit: number; afterName?: string; includeDeprecated: boolean },
): Promise<EventType[]> {
  return tx<EventType[]>`
    select ${tx.unsafe(eventTypeColumns)} from hookledger.event_types
    where org_id = hookledger.current_org_id() and app_id = ${appId} and deleted_at is null
      ${options.includeDeprecated ? tx`` : tx`and not deprecated`}
      ${options.afterName ? tx`and name > ${options.afterName}` : tx``}
    order by name limit ${options.limit + 1}`;
}

export class EventTypeExistsError extends Error {
  override readonly name = "EventTypeExistsError";
}

export async function createEventType(
  ctx: AppContext,
  orgId: string,
  input: { appId: string; name: string; description: string | null; schema: Record<string, unknown> | null; deprecated: boolean },
  meta: EntryMeta,
): Promise<EventType | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    // The application's row serialises creates under it; the check below then sees any create that won.
    if (!(await getApplicationForChange(tx, input.appId))) return undefined;
    if (await getEventType(tx, input.appId, input.name)) throw new EventTypeExistsError(input.name);
    await ctx.ledger.record(tx, eventTypeStream(input.appId, input.name), ANY_VERSION, [
      {
        type: "event_type.created",
        data: { app_id: input.appId, name: input.name, description: input.description, schema: input.schema, deprecated: input.deprecated },
        meta,
      },
    ]);
    return (await getEventType(tx, input.appId, input.name)) as EventType;
  });
}

export async function updateEventType(
  ctx: AppContext,
  orgId: string,
  appId: string,
  name: string,
  changes: { description?: string | null; schema?: Record<string, unknown> | null; deprecated?: boolean },
  meta: EntryMeta,
): Promise<EventType | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getEventTypeForChange(tx, appId, name))) return undefined;
    if (namesAChange(changes)) await ctx.ledger.record(tx, eventTypeStream(appId, name), ANY_VERSION, [{ type: "event_type.updated", data: { app_id: appId, name, ...changes }, meta }]);
    return getEventType(tx, appId, name);
  });
}

export async function deleteEventType(ctx: AppContext, orgId: string, appId: string, name: string, meta: EntryMeta): Promise<boolean> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getEventTypeForChange(tx, appId, name))) return false;
    await ctx.ledger.record(tx, eventTypeStream(appId, name), ANY_VERSION, [{ type: "event_type.deleted", data: { app_id: appId, name }, meta }]);
    return true;
  });
}
