/** Events with filters and keyset paging (the JSON API's query schema and cursor), and one event in full. */
import * as v from "valibot";
import { withTenant } from "../../db/tenant.ts";
import { page as pageOf, pageRequest } from "../../http/pagination.ts";
import { ProblemError } from "../../http/problem.ts";
import { DELIVERY_STATUSES, deliveriesOfEvent, getEvent, listEventSummaries, type EventRow, type EventSummary } from "../../outbound/deliveryStore.ts";
import { eventIdField } from "../../outbound/fields.ts";
import { eventListQuery } from "../../outbound/routes/events.ts";
import { listSubscriptions } from "../../outbound/subscriptionStore.ts";
import { listApplications } from "../../tenancy/applications.ts";
import { requireAppAccess, requireScope } from "../../tenancy/authorize.ts";
import { applicationIdIn } from "../../tenancy/routes/applicationInPath.ts";
import { hasScope } from "../../tenancy/scopes.ts";
import { badge, codeBlock, definitionList, h, table, time, type Html } from "../html.ts";
import { render, type View } from "../view.ts";

const PAGE = 50;

/** `<input type=datetime-local>` sends minutes without a zone: the console shows UTC, so read it as UTC. */
const asTimestamp = (value: string) => (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value) ? `${value}:00Z` : value);

function readFilters(query: Record<string, string>): { filters: Record<string, string>; parsed: v.SafeParseResult<typeof eventListQuery> } {
  const filters: Record<string, string> = {};
  for (const name of ["app_id", "event_type", "label", "since", "until", "status", "after"]) {
    const value = query[name]?.trim();
    if (value) filters[name] = name === "since" || name === "until" ? asTimestamp(value) : value;
  }
  return { filters, parsed: v.safeParse(eventListQuery, { ...filters, limit: String(PAGE) }) };
}

/** Delivery statuses of each listed event, for the list's "deliveries" column. */
async function statusesOf(view: View, events: EventSummary[]): Promise<Map<string, Record<string, number>>> {
  if (events.length === 0) return new Map();
  const rows = await withTenant(view.ctx.sql, view.auth.orgId, (tx) => tx<{ event_id: string; status: string; n: number }[]>`
    select event_id, status, count(*)::int as n from hookledger.deliveries
    where org_id = hookledger.current_org_id() and event_id in ${tx(events.map((event) => event.event_id))} group by event_id, status`);
  const byEvent = new Map<string, Record<string, number>>();
  for (const row of rows) byEvent.set(row.event_id, { ...byEvent.get(row.event_id), [row.status]: row.n });
  return byEvent;
}

export async function eventsPage(view: View): Promise<Response> {
  const { ctx, auth, base, c } = view;
  requireScope(auth, "events:read");
  // "What happened to event X?": an id goes straight to the event (its page applies the visibility rules).
  const wanted = c.req.query("event_id")?.trim();
  if (wanted) return c.redirect(`${base}/events/${encodeURIComponent(wanted)}`, 303);
  const { filters, parsed } = readFilters(c.req.query());
  let problem: string | undefined;
  let events: EventSummary[] = [];
  let next: string | null = null;
  let chosenAppId: string | undefined;
  if (!parsed.success) {
    problem = parsed.issues.map((issue) => `${issue.path?.map((item) => String(item.key)).join(".") ?? "filter"}: ${issue.message}`).join("; ");
  } else {
    const query = parsed.output;
    // An id or a uid, as GET /v1/events?app_id= takes it: a uid no live application has lists no event.
    chosenAppId = query.app_id === undefined ? undefined : await applicationIdIn(ctx, auth.orgId, query.app_id);
    if (chosenAppId !== undefined) requireAppAccess(auth, chosenAppId);
    const noSuchApp = query.app_id !== undefined && chosenAppId === undefined;
    try {
      const { limit, cursor } = pageRequest(query, { k: "timestamp", id: "name" });
      const label = query.label;
      const rows = noSuchApp ? [] : await withTenant(ctx.sql, auth.orgId, (tx) =>
        listEventSummaries(tx, {
          appId: auth.appId ?? chosenAppId,
          eventType: query.event_type,
          since: query.since,
          until: query.until,
          deliveryStatus: query.status,
          ...(label ? { label: { key: label.slice(0, label.indexOf(":")), value: label.slice(label.indexOf(":") + 1) } } : {}),
          after: cursor && { receivedAt: cursor.k, id: cursor.id },
          limit,
        }),
      );
      const result = pageOf(rows, limit, (row) => ({ k: row.received_at.toISOString(), id: row.event_id }));
      events = result.data;
      next = result.next_cursor;
    } catch (error) {
      if (!(error instanceof ProblemError) || error.status !== 400) throw error;
      problem = error.message;
    }
  }
  const apps = auth.appId === null && hasScope(auth.scopes, "applications:read") ? await withTenant(ctx.sql, auth.orgId, (tx) => listApplications(tx, { limit: 200 })) : [];
  const statuses = await statusesOf(view, events);
  const appName = new Map(apps.map((app) => [app.id, app.name]));
  const rows = events.map((event) => {
    const counts = statuses.get(event.event_id) ?? {};
    const summary = DELIVERY_STATUSES.filter((status) => counts[status]).map((status) => h`${badge(`${counts[status]} ${status}`, status === "succeeded" ? "ok" : status === "failed" ? "bad" : status === "cancelled" || status === "aborted" ? "idle" : "warn")} `);
    return h`<tr><td>${time(event.received_at)}</td><td><a href="${base}/events/${encodeURIComponent(event.event_id)}">${event.event_id}</a></td><td class="mono">${event.event_type}</td>
<td>${summary.length > 0 ? summary : h`<span class="muted">none</span>`}</td>${auth.appId === null ? h`<td>${appName.get(event.app_id) ?? event.app_id}</td>` : ""}<td class="mono wrap">${Object.entries(event.labels).map(([key, value]) => `${key}:${value}`).join(" ")}</td></tr>`;
  });
  const nextHref = next ? `${base}/events?${new URLSearchParams({ ...filters, after: next }).toString()}` : undefined;
  const field = (name: string, label: string, input: Html) => h`<div><label for="f-${name}">${label}</label>${input}</div>`;
  const body = h`<h1>Events</h1>
<form class="filters" method="get" action="${base}/events" aria-label="Find an event"><div><label for="f-event_id">Event id</label><input id="f-event_id" name="event_id" size="24" placeholder="evt_…" required></div><button class="secondary">Open</button></form>
<form class="filters" method="get" action="${base}/events" aria-label="Filter events">
${apps.length > 0 ? field("app_id", "Application", h`<select id="f-app_id" name="app_id"><option value="">all</option>${apps.map((app) => h`<option value="${app.id}"${app.id === chosenAppId ? h` selected` : ""}>${app.name}</option>`)}</select>`) : ""}
${field("event_type", "Event type", h`<input id="f-event_type" name="event_type" value="${filters.event_type ?? ""}" placeholder="order.created" size="16">`)}
${field("status", "Delivery status", h`<select id="f-status" name="status"><option value="">any</option>${DELIVERY_STATUSES.map((status) => h`<option${status === filters.status ? h` selected` : ""}>${status}</option>`)}</select>`)}
${field("label", "Label", h`<input id="f-label" name="label" value="${filters.label ?? ""}" placeholder="region:eu" size="12">`)}
${field("since", "Since (UTC)", h`<input id="f-since" name="since" value="${filters.since ?? ""}" placeholder="2026-01-31T00:00:00Z" size="20">`)}
${field("until", "Until (UTC)", h`<input id="f-until" name="until" value="${filters.until ?? ""}" placeholder="2026-02-01T00:00:00Z" size="20">`)}
<button>Apply</button> <a class="button secondary" href="${base}/events">Clear</a></form>
${table("Events, newest first", ["Received", "Event id", "Type", "Deliveries", ...(auth.appId === null ? ["Application"] : []), "Labels"], rows, "No events match these filters.")}
${nextHref ? h`<div class="pager"><a class="button secondary" href="${nextHref}" rel="next">Older events →</a></div>` : ""}`;
  return render(view, {
    title: "Events",
    current: `${base}/events`,
    body,
    ...(problem ? { flash: { kind: "error" as const, text: problem }, status: 400 as const } : {}),
  });
}

function payloadOf(event: EventRow): Html {
  if (event.payload_encoding === "base64") {
    return h`<p class="muted">Binary payload (${event.content_type}), ${Buffer.from(event.payload, "base64").byteLength} bytes, shown as base64:</p>${codeBlock(event.payload, "Payload, base64")}`;
  }
  return codeBlock(event.payload, "Payload");
}

/** Deliveries an event's page lists (each replay adds one per subscription). */
const SHOWN_DELIVERIES = 200;

export async function eventPage(view: View, eventId: string): Promise<Response> {
  const { ctx, auth, base } = view;
  requireScope(auth, "events:read");
  if (!v.is(eventIdField, eventId)) throw new ProblemError("not-found", "no such event");
  const found = await withTenant(ctx.sql, auth.orgId, async (tx) => {
    const event = await getEvent(tx, eventId);
    if (!event || (auth.appId !== null && auth.appId !== event.app_id)) return undefined;
    return { event, deliveries: await deliveriesOfEvent(tx, { eventId, limit: SHOWN_DELIVERIES }), subscriptions: await listSubscriptions(tx, { limit: 500, appId: event.app_id }) };
  });
  if (!found) throw new ProblemError("not-found", "no such event");
  const { event } = found;
  const urls = new Map(found.subscriptions.map((row) => [row.subscription_id, row.url]));
  const rows = found.deliveries.slice(0, SHOWN_DELIVERIES).map(
    (row) => h`<tr><td>${badge(row.status)}</td><td class="wrap"><a href="${base}/deliveries/${row.delivery_id}">${urls.get(row.subscription_id) ?? row.subscription_id}</a></td><td class="mono">${row.attempts}</td>
<td class="mono">${row.last_status_code ?? row.last_error_class ?? "—"}</td><td>${time(row.last_attempt_at)}</td><td>${row.reason}</td></tr>`,
  );
  const body = h`<div class="crumbs"><a href="${base}/events">Events</a> /</div><h1 class="wrap">${event.event_id}</h1>
<div class="panel">${definitionList([
    ["Type", h`<span class="mono">${event.event_type}</span>`],
    ["Received", time(event.received_at)],
    ["Occurred", time(event.occurred_at)],
    ["Content type", event.content_type],
    ["Labels", Object.entries(event.labels).map(([key, value]) => `${key}:${value}`).join(" ") || "—"],
    ["Channels", event.channels ? h`<span class="mono">${event.channels.join(" ")}</span>` : "—"],
    ["Payload SHA-256", h`<span class="mono">${event.payload_sha256}</span>`],
  ])}</div>
${hasScope(auth.scopes, "events:write") ? h`<div class="actions"><a class="button secondary" href="${base}/events/${encodeURIComponent(event.event_id)}/replay">Replay event</a></div>` : ""}
<h2>Deliveries</h2>
${table("Deliveries of this event", ["Status", "Endpoint", "Attempts", "Last answer", "Last attempt", "Reason"], rows, "This event matched no subscription.")}
${found.deliveries.length > SHOWN_DELIVERIES ? h`<p class="muted">The first ${SHOWN_DELIVERIES} deliveries are shown; the API lists them all (GET /v1/events/{event_id}/deliveries).</p>` : ""}
<h2>Payload</h2>${payloadOf(event)}`;
  return render(view, { title: `Event ${event.event_id}`, current: `${base}/events`, body });
}
