/** An event the caller may see, or 404 (the JSON API's rule for application-scoped callers). */
import * as v from "valibot";
import { withTenant } from "../../db/tenant.ts";
import { ProblemError } from "../../http/problem.ts";
import { getEvent, type EventRow } from "../../outbound/deliveryStore.ts";
import { eventIdField } from "../../outbound/fields.ts";
import type { View } from "../view.ts";

export async function loadEvent(view: View, eventId: string): Promise<EventRow> {
  const { ctx, auth } = view;
  const event = v.is(eventIdField, eventId) ? await withTenant(ctx.sql, auth.orgId, (tx) => getEvent(tx, eventId)) : undefined;
  if (!event || (auth.appId !== null && auth.appId !== event.app_id)) throw new ProblemError("not-found", "no such event");
  return event;
}
