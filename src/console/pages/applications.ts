/** Applications, and one application's event types and subscriptions with their health. */
import { withTenant } from "../../db/tenant.ts";
import { ProblemError } from "../../http/problem.ts";
import { listEventTypes } from "../../outbound/eventTypes.ts";
import { listSubscriptions, type SubscriptionRow } from "../../outbound/subscriptionStore.ts";
import { appRefOf, applicationIdOfUid } from "../../tenancy/applicationRefs.ts";
import { getApplication, listApplications, type Application } from "../../tenancy/applications.ts";
import { requireAppAccess, requireScope } from "../../tenancy/authorize.ts";
import { hasScope } from "../../tenancy/scopes.ts";
import { ago, badge, definitionList, h, table, time, type Html } from "../html.ts";
import { subscriptionCounts } from "../queries.ts";
import { render, type View } from "../view.ts";

const LIST_LIMIT = 200;

export function healthOf(row: Pick<SubscriptionRow, "enabled" | "consecutive_failures" | "circuit_state">): Html {
  if (!row.enabled) return badge("disabled");
  if (row.circuit_state === "open") return badge("circuit open", "bad");
  return row.consecutive_failures > 0 ? badge("failing") : badge("healthy");
}

export async function applicationsPage(view: View): Promise<Response> {
  const { ctx, auth, base } = view;
  requireScope(auth, "applications:read");
  const { apps, counts } = await withTenant(ctx.sql, auth.orgId, async (tx) => ({
    apps: await listApplications(tx, { limit: LIST_LIMIT, onlyAppId: auth.appId }),
    counts: new Map((await subscriptionCounts(tx, auth.appId)).map((row) => [row.app_id, row.n])),
  }));
  const rows = apps.slice(0, LIST_LIMIT).map(
    (app) => h`<tr><td><a href="${base}/applications/${app.id}">${app.name}</a></td><td class="wrap">${app.description ?? ""}</td><td class="mono">${counts.get(app.id) ?? 0}</td><td>${time(app.created_at)}</td><td class="mono muted">${app.id}</td></tr>`,
  );
  const body = h`<h1>Applications</h1>${table("Applications", ["Name", "Description", "Subscriptions", "Created", "Id"], rows, "No applications yet. Create one with POST /v1/applications.")}`;
  return render(view, { title: "Applications", current: `${base}/applications`, body });
}

/**
 * The application a page acts on, named in the path by its id or its uid (as every `/v1` route takes it), which the
 * caller may see; 404 for anything else. What a form or link on the page names is the stored id, never the path's
 * text, which could carry `../` and a query into the form's action.
 */
export async function loadApplication(view: View, ref: string): Promise<Application> {
  const { ctx, auth } = view;
  const parsed = appRefOf(ref);
  // An id is checked against an application token's own before any read, as the JSON API does.
  if (parsed && "id" in parsed) requireAppAccess(auth, parsed.id);
  const found = parsed
    ? await withTenant(ctx.sql, auth.orgId, async (tx) => {
        const appId = "id" in parsed ? parsed.id : await applicationIdOfUid(tx, parsed.uid);
        return appId === undefined ? undefined : getApplication(tx, appId);
      })
    : undefined;
  if (!found) throw new ProblemError("not-found", "no such application");
  requireAppAccess(auth, found.id);
  return found;
}

export async function applicationPage(view: View, appRef: string): Promise<Response> {
  const { ctx, auth, base, now } = view;
  requireScope(auth, "applications:read");
  const app = await loadApplication(view, appRef);
  const found = await withTenant(ctx.sql, auth.orgId, async (tx) => ({
    app,
    eventTypes: await listEventTypes(tx, app.id, { limit: LIST_LIMIT, includeDeprecated: true }),
    subscriptions: hasScope(auth.scopes, "subscriptions:read") ? await listSubscriptions(tx, { limit: LIST_LIMIT, appId: app.id }) : [],
  }));
  const typeRows = found.eventTypes.slice(0, LIST_LIMIT).map(
    (type) => h`<tr><td class="mono">${type.name}</td><td class="wrap">${type.description ?? ""}</td><td>${type.schema ? "yes" : "no"}</td><td>${type.deprecated ? badge("deprecated", "warn") : ""}</td></tr>`,
  );
  const subscriptionRows = found.subscriptions.slice(0, LIST_LIMIT).map(
    (row) => h`<tr><td class="wrap"><a href="${base}/subscriptions/${row.subscription_id}">${row.url}</a>${row.description ? h`<div class="muted">${row.description}</div>` : ""}</td>
<td>${healthOf(row)}${row.disabled_reason ? h`<div class="muted">${row.disabled_reason}</div>` : ""}</td>
<td class="mono">${row.consecutive_failures}</td><td>${ago(row.last_success_at, now)}</td><td>${row.circuit_state}</td><td class="mono wrap">${row.event_types.join(", ")}</td></tr>`,
  );
  const portal = view.surface === "portal";
  const body = h`${portal ? "" : h`<div class="crumbs"><a href="${base}/applications">Applications</a> /</div>`}<h1>${found.app.name}</h1>
<div class="panel">${definitionList([
    ["Application id", h`<span class="mono">${found.app.id}</span>`],
    ["Uid", found.app.uid === null ? "—" : h`<span class="mono">${found.app.uid}</span>`],
    ["Description", found.app.description ?? "—"],
    ["Created", time(found.app.created_at)],
  ])}</div>
<div class="actions"><a class="button secondary" href="${base}/events?app_id=${found.app.id}">Events of this application</a>${hasScope(auth.scopes, "subscriptions:write") ? h`<a class="button" href="${base}/applications/${found.app.id}/new-subscription">Add endpoint</a>` : ""}</div>
<h2>Subscriptions</h2>
${table("Subscriptions", ["Endpoint", "Health", "Failures in a row", "Last success", "Circuit", "Event types"], subscriptionRows, "No subscriptions.")}
<h2>Event types</h2>
${table("Event types", ["Name", "Description", "Schema", ""], typeRows, "No event types.")}`;
  return render(view, { title: found.app.name, current: portal ? `${base}/applications/${found.app.id}` : `${base}/applications`, body });
}
