/** One subscription: its settings, health, the actions on it, and its recent deliveries. */
import * as v from "valibot";
import { withTenant } from "../../db/tenant.ts";
import { ProblemError } from "../../http/problem.ts";
import { countDeliveriesOfSubscription, DELIVERY_STATUSES, listDeliveriesOfSubscription, type DeliveryCounts, type DeliveryRow } from "../../outbound/deliveryStore.ts";
import { getSubscription, type SubscriptionRow } from "../../outbound/subscriptionStore.ts";
import { requireScope } from "../../tenancy/authorize.ts";
import { hasScope } from "../../tenancy/scopes.ts";
import { ago, badge, definitionList, h, table, time, type Html } from "../html.ts";
import { render, type View } from "../view.ts";
import { healthOf } from "./applications.ts";

const RECENT = 25;
/** The window of the page's delivery counts (GET /v1/subscriptions/{id}/stats's default). */
const COUNTED_DAYS = 28;

/** "3 succeeded, 1 failed" of the statuses that have any; "none" when there are none. */
function countsText(counts: DeliveryCounts): string {
  const parts = DELIVERY_STATUSES.filter((status) => counts[status] > 0).map((status) => `${counts[status].toLocaleString("en")} ${status}`);
  return parts.length > 0 ? parts.join(", ") : "none";
}
const statusField = v.optional(v.picklist(DELIVERY_STATUSES));

/** Loads a subscription the caller may see (the JSON API's rule: an application-scoped caller sees its own only). */
export async function loadSubscription(view: View, id: string): Promise<SubscriptionRow> {
  const { ctx, auth } = view;
  const found = v.is(v.pipe(v.string(), v.uuid()), id) ? await withTenant(ctx.sql, auth.orgId, (tx) => getSubscription(tx, id)) : undefined;
  if (!found || (auth.appId !== null && auth.appId !== found.app_id)) throw new ProblemError("not-found", "no such subscription");
  return found;
}

export function deliveryRows(view: View, rows: DeliveryRow[]): Html[] {
  return rows.map(
    (row) => h`<tr><td>${badge(row.status)}</td><td><a href="${view.base}/deliveries/${row.delivery_id}">${row.event_id}</a></td><td class="mono">${row.attempts}</td>
<td class="mono">${row.last_status_code ?? row.last_error_class ?? "—"}</td><td>${time(row.last_attempt_at)}</td><td>${row.status === "pending" || row.status === "retrying" ? ago(row.next_attempt_at, view.now, "—") : "—"}</td><td>${row.reason}</td></tr>`,
  );
}

export async function subscriptionPage(view: View, id: string): Promise<Response> {
  const { ctx, auth, base, now } = view;
  requireScope(auth, "subscriptions:read");
  const row = await loadSubscription(view, id);
  const status = v.safeParse(statusField, view.c.req.query("status") || undefined);
  const filter = status.success ? status.output : undefined;
  const readsDeliveries = hasScope(auth.scopes, "events:read");
  const { deliveries, counts } = readsDeliveries
    ? await withTenant(ctx.sql, auth.orgId, async (tx) => ({
        deliveries: await listDeliveriesOfSubscription(tx, { subscriptionId: id, status: filter, limit: RECENT }),
        counts: await countDeliveriesOfSubscription(tx, { subscriptionId: id, since: new Date(now.getTime() - COUNTED_DAYS * 86_400_000), until: now }),
      }))
    : { deliveries: [], counts: undefined };
  const write = hasScope(auth.scopes, "subscriptions:write");
  const action = (name: string, label: string, style = "secondary") => h`<a class="button ${style}" href="${base}/subscriptions/${id}/${name}">${label}</a>`;
  const body = h`<div class="crumbs"><a href="${base}/applications/${row.app_id}">Application</a> /</div>
<h1 class="wrap">${row.url}</h1>
<div class="panel">${definitionList([
    ["Health", healthOf(row)],
    ["Failures in a row", String(row.consecutive_failures)],
    ["Failing since", ago(row.failing_since, now, "—")],
    ["Last success", ago(row.last_success_at, now)],
    ["Last failure", ago(row.last_failure_at, now)],
    ["Circuit", h`${row.circuit_state}${row.circuit_retry_at ? h` (retry ${ago(row.circuit_retry_at, now)})` : ""}`],
    ...(counts ? [[`Deliveries, last ${COUNTED_DAYS} days`, countsText(counts)] as [string, string]] : []),
    ["Disabled reason", row.disabled_reason ?? "—"],
    ["Event types", h`<span class="mono">${row.event_types.join(", ")}</span>`],
    ["Channels", row.channels ? h`<span class="mono">${row.channels.join(", ")}</span>` : "any (none listed)"],
    ["Signature scheme", row.signature_scheme],
    ["Attempts, timeout", `${row.max_attempts} attempts, ${row.timeout_ms} ms`],
    ["Description", row.description ?? "—"],
    ["Subscription id", h`<span class="mono">${row.subscription_id}</span>`],
  ])}</div>
${write
  ? h`<div class="actions">${action("edit", "Edit")}${row.enabled ? action("test", "Send test event") : ""}${row.enabled ? action("disable", "Disable") : action("enable", "Enable", "")}${action("reveal-secret", "Reveal secret")}${action("rotate-secret", "Rotate secret")}${row.enabled ? action("recover", "Recover failed deliveries") : ""}</div>`
  : ""}
<h2>Recent deliveries</h2>
<form class="filters" method="get" action="${base}/subscriptions/${id}"><div><label for="status">Status</label><select id="status" name="status"><option value="">any</option>${DELIVERY_STATUSES.map((s) => h`<option${s === filter ? h` selected` : ""}>${s}</option>`)}</select></div><button class="secondary">Filter</button></form>
${table("Recent deliveries", ["Status", "Event", "Attempts", "Last answer", "Last attempt", "Next attempt", "Reason"], deliveryRows(view, deliveries.slice(0, RECENT)), "No deliveries.")}`;
  return render(view, { title: "Subscription", current: view.surface === "portal" ? `${base}/applications/${row.app_id}` : `${base}/applications`, body });
}
