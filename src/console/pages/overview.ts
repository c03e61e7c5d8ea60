/** The console's landing page: is delivery healthy right now, and what needs attention. */
import { withTenant } from "../../db/tenant.ts";
import { requireScope } from "../../tenancy/authorize.ts";
import { applicationCount, eventsToday, ingressRouteCount, quotasOf } from "../../tenancy/quotas.ts";
import { hasScope } from "../../tenancy/scopes.ts";
import { attemptsChart } from "../chart.ts";
import { ago, badge, h, table, time, type Html } from "../html.ts";
import { attemptsPerMinute, failingEndpoints, oldestPending, subscriptionCounts } from "../queries.ts";
import { render, type View } from "../view.ts";

const CHART_HOURS = 3;

function usageRow(label: string, used: number, limit: number): Html {
  return h`<li><span class="what">${label}</span><meter min="0" max="${limit}" value="${Math.min(used, limit)}" high="${limit * 0.8}" optimum="0" aria-label="${label}">${used}</meter><span class="mono">${used.toLocaleString("en")} / ${limit.toLocaleString("en")}</span></li>`;
}

export async function overviewPage(view: View): Promise<Response> {
  const { ctx, auth, base, now } = view;
  requireScope(auth, "events:read");
  const since = new Date(Math.floor(now.getTime() / 60_000) * 60_000 - CHART_HOURS * 3_600_000);
  const data = await withTenant(ctx.sql, auth.orgId, async (tx) => {
    const quota = hasScope(auth.scopes, "applications:read")
      ? {
          quotas: await quotasOf(tx, ctx.config),
          eventsToday: await eventsToday(tx, now),
          subscriptions: await subscriptionCounts(tx, auth.appId),
          organizationWide: auth.appId === null ? { applications: await applicationCount(tx), ingressRoutes: await ingressRouteCount(tx) } : undefined,
        }
      : undefined;
    return {
      minutes: await attemptsPerMinute(tx, auth.appId, since),
      failing: await failingEndpoints(tx, auth.appId, 10),
      oldest: await oldestPending(tx, auth.appId),
      quota,
    };
  });

  const failingRows = data.failing.map(
    (row) => h`<tr><td class="wrap"><a href="${base}/subscriptions/${row.subscription_id}">${row.url}</a></td>
<td>${row.enabled ? badge("enabled") : badge("disabled")}${row.disabled_reason ? h` <span class="muted">${row.disabled_reason}</span>` : ""}</td>
<td class="mono">${row.consecutive_failures}</td><td>${ago(row.failing_since, now, "—")}</td><td>${ago(row.last_success_at, now)}</td>
<td>${badge(`circuit ${row.circuit_state}`, row.circuit_state === "open" ? "bad" : "ok")}</td></tr>`,
  );
  const oldest = data.oldest;
  const quota = data.quota;
  const busiest = quota ? Math.max(0, ...quota.subscriptions.map((row) => row.n)) : 0;
  const body = h`<h1>Overview</h1>
<section class="panel" aria-labelledby="chart-h"><h2 id="chart-h">Delivery attempts per minute, last ${CHART_HOURS} hours (UTC)</h2>${attemptsChart(data.minutes, since, now)}</section>
<div class="grid">
<section class="panel" aria-labelledby="pending-h"><h2 id="pending-h">Oldest pending delivery</h2>
${oldest
  ? h`<p class="stat">${ago(oldest.created_at, now)}</p><p>${badge(oldest.status)} <a href="${base}/deliveries/${oldest.delivery_id}">delivery of ${oldest.event_id}</a></p>
<p class="muted">${oldest.pending} deliveries waiting · next attempt ${ago(oldest.next_attempt_at, now, "not scheduled")}</p>`
  : h`<p class="stat">None</p><p class="muted">Every delivery has completed.</p>`}
</section>
${quota
  ? h`<section class="panel" aria-labelledby="quota-h"><h2 id="quota-h">Quota usage</h2><ul class="usage">
${usageRow("Events today (UTC)", quota.eventsToday, quota.quotas.events_per_day)}
${quota.organizationWide ? usageRow("Applications", quota.organizationWide.applications, quota.quotas.applications) : ""}
${usageRow("Subscriptions, busiest application", busiest, quota.quotas.subscriptions_per_application)}
${quota.organizationWide ? usageRow("Ingress routes", quota.organizationWide.ingressRoutes, quota.quotas.ingress_routes) : ""}
</ul></section>`
  : ""}
</div>
<h2>Failing endpoints</h2>
${table("Failing endpoints", ["Endpoint", "State", "Failures in a row", "Failing since", "Last success", "Circuit"], failingRows, "No endpoint is failing.")}
<p class="muted">Times are UTC; ${time(now)} now.</p>`;
  return render(view, { title: "Overview", current: `${base}/overview`, body });
}
