/**
 * Actions of the console and the portal. Each is two steps: GET shows what will happen with a field for the audit
 * reason, POST does it (with the session's CSRF token, checked before any handler). They call the commands the
 * JSON API routes call (retryDelivery, replayEvent, recoverSubscription, setSubscriptionEnabled,
 * rotateSubscriptionSecret, revealSubscriptionSecret, testSubscription) after the same scope and visibility checks;
 * only the way refusals are shown differs.
 */
import type { Context, Hono } from "hono";
import * as v from "valibot";
import type { AppContext } from "../context.ts";
import type { HttpEnv } from "../http/env.ts";
import { timestampField } from "../http/fields.ts";
import { ProblemError } from "../http/problem.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { retryDelivery, RetryError, recoverSubscription, replayEvent, ReplayError } from "../outbound/replay.ts";
import type { SubscriptionRow } from "../outbound/subscriptionStore.ts";
import { revealSubscriptionSecret, rotateSubscriptionSecret, setSubscriptionEnabled } from "../outbound/subscriptions.ts";
import { testSubscription } from "../outbound/subscriptionTest.ts";
import { auditMeta, auditReason } from "../tenancy/audit.ts";
import { requireScope } from "../tenancy/authorize.ts";
import { formText, readForm } from "./formInput.ts";
import { badge, h, secretBox, type Html } from "./html.ts";
import { loadDelivery } from "./pages/delivery.ts";
import { loadEvent } from "./pages/eventLoad.ts";
import { loadSubscription } from "./pages/subscription.ts";
import type { Surface } from "./sessions.ts";
import { render, viewOf, type View } from "./view.ts";

interface Confirmation {
  title: string;
  question: Html;
  submit: string;
  danger?: boolean;
  fields?: Html;
  back: string;
  error?: string;
}

function confirmPage(view: View, confirmation: Confirmation, status: 200 | 400 | 404 | 409 = 200): Response {
  const action = new URL(view.c.req.url).pathname;
  const body = h`<div class="panel signin"><h1>${confirmation.title}</h1><p>${confirmation.question}</p>
<form method="post" action="${action}"><input type="hidden" name="csrf" value="${view.csrf}">
${confirmation.fields ?? ""}
<p><label for="reason">Reason (kept in the audit log)</label><textarea id="reason" name="reason" maxlength="1000" placeholder="Why are you doing this?"></textarea></p>
<div class="actions"><button${confirmation.danger ? h` class="danger"` : ""}>${confirmation.submit}</button><a class="button secondary" href="${confirmation.back}">Cancel</a></div></form></div>`;
  return render(view, {
    title: confirmation.title,
    current: "",
    body,
    ...(confirmation.error ? { flash: { kind: "error" as const, text: confirmation.error }, status } : {}),
  });
}

/** The ledger meta of an action: the JSON API's (actor, request id, address, agent) with the form's reason. */
async function metaOf(c: Context<HttpEnv>, reasonRequired: boolean): Promise<EntryMeta> {
  const reason = auditReason(formText(await readForm(c), "reason", 1000), "reason");
  if (reasonRequired && !reason) throw new ProblemError("validation", "this instance requires a reason for this action (HOOKLEDGER_REQUIRE_AUDIT_REASON)");
  return { ...auditMeta(c), ...(reason ? { reason } : {}) };
}

const formValue = async (c: Context<HttpEnv>, name: string): Promise<string> => formText(await readForm(c), name);

const done = (view: View, path: string, what: string) => view.c.redirect(`${view.base}${path}?done=${what}`, 303);

export function registerActions(app: Hono<HttpEnv>, ctx: AppContext, surface: Surface): void {
  const view = (c: Context<HttpEnv>) => viewOf(ctx, c, surface);
  const reasonRequired = ctx.config.HOOKLEDGER_REQUIRE_AUDIT_REASON;
  /**
   * How each subscription action starts, its GET and its POST alike: the scope is checked before anything is looked
   * up (403), then the subscription the path names is loaded as its page loads it (404 when this session cannot see it).
   */
  const subscriptionAction = async (c: Context<HttpEnv>): Promise<{ page: View; row: SubscriptionRow }> => {
    const page = view(c);
    requireScope(page.auth, "subscriptions:write");
    return { page, row: await loadSubscription(page, c.req.param("subscription_id") ?? "") };
  };

  const retryConfirmation = (view: View, id: string, eventId: string): Confirmation => ({
    title: "Retry delivery",
    question: h`Send event <strong>${eventId}</strong> to this endpoint again now, as the delivery's next attempt?`,
    submit: "Retry now",
    back: `${view.base}/deliveries/${id}`,
  });
  app.get("/deliveries/:delivery_id/retry", async (c) => {
    const page = view(c);
    requireScope(page.auth, "subscriptions:write");
    const delivery = await loadDelivery(page, c.req.param("delivery_id"));
    return confirmPage(page, retryConfirmation(page, delivery.delivery_id, delivery.event_id));
  });
  app.post("/deliveries/:delivery_id/retry", async (c) => {
    const page = view(c);
    requireScope(page.auth, "subscriptions:write");
    const delivery = await loadDelivery(page, c.req.param("delivery_id"));
    try {
      await retryDelivery(ctx, page.auth.orgId, delivery.delivery_id, await metaOf(c, false));
    } catch (error) {
      if (!(error instanceof RetryError)) throw error;
      const message = error.failure === "already_succeeded" ? "The delivery already succeeded; replay the event to send it again." : "The subscription is disabled or deleted; enable it first.";
      return confirmPage(page, { ...retryConfirmation(page, delivery.delivery_id, delivery.event_id), error: message }, 409);
    }
    return done(page, `/deliveries/${delivery.delivery_id}`, "retried");
  });

  const replayConfirmation = (view: View, eventId: string): Confirmation => ({
    title: "Replay event",
    question: h`Deliver event <strong>${eventId}</strong> again to every subscription that matches it now? Each gets a new delivery.`,
    submit: "Replay",
    back: `${view.base}/events/${encodeURIComponent(eventId)}`,
  });
  app.get("/events/:event_id/replay", async (c) => {
    const page = view(c);
    requireScope(page.auth, "events:write");
    const event = await loadEvent(page, c.req.param("event_id"));
    return confirmPage(page, replayConfirmation(page, event.event_id));
  });
  app.post("/events/:event_id/replay", async (c) => {
    const page = view(c);
    requireScope(page.auth, "events:write");
    const event = await loadEvent(page, c.req.param("event_id"));
    try {
      const result = await replayEvent(ctx, page.auth.orgId, event.event_id, null, await metaOf(c, false));
      ctx.metrics.deliveriesScheduled.inc(result.deliveryIds.length);
    } catch (error) {
      if (!(error instanceof ReplayError)) throw error;
      return confirmPage(page, { ...replayConfirmation(page, event.event_id), error: "The event could not be replayed." }, 409);
    }
    return done(page, `/events/${encodeURIComponent(event.event_id)}`, "replayed");
  });

  const recoverConfirmation = (view: View, id: string, url: string, since: string): Confirmation => ({
    title: "Recover failed deliveries",
    question: h`Send again every failed or cancelled delivery to <strong>${url}</strong> created since the time below?`,
    submit: "Recover",
    fields: h`<p><label for="since">Since (UTC, RFC 3339)</label><input id="since" name="since" value="${since}" required size="26"></p>`,
    back: `${view.base}/subscriptions/${id}`,
  });
  app.get("/subscriptions/:subscription_id/recover", async (c) => {
    const { page, row } = await subscriptionAction(c);
    const since = new Date(page.now.getTime() - 86_400_000).toISOString().slice(0, 19) + "Z";
    return confirmPage(page, recoverConfirmation(page, row.subscription_id, row.url, since));
  });
  app.post("/subscriptions/:subscription_id/recover", async (c) => {
    const { page, row } = await subscriptionAction(c);
    const raw = await formValue(c, "since");
    const since = v.safeParse(timestampField, raw);
    if (!since.success) return confirmPage(page, { ...recoverConfirmation(page, row.subscription_id, row.url, raw), error: `Since: ${since.issues[0]?.message ?? "expected an RFC 3339 time"}` }, 400);
    try {
      const result = await recoverSubscription(ctx, page.auth.orgId, row.subscription_id, { since: since.output }, await metaOf(c, false));
      return done(page, `/subscriptions/${row.subscription_id}`, `recovered-${result.deliveries}${result.remaining ? "-more" : ""}`);
    } catch (error) {
      if (!(error instanceof RetryError)) throw error;
      const gone = error.failure === "subscription_not_found";
      const message = gone ? "The subscription was deleted meanwhile." : "The subscription is disabled; enable it first.";
      return confirmPage(page, { ...recoverConfirmation(page, row.subscription_id, row.url, raw), error: message }, gone ? 404 : 409);
    }
  });

  for (const [name, enabled] of [["enable", true], ["disable", false]] as const) {
    const confirmation = (view: View, id: string, url: string): Confirmation => ({
      title: enabled ? "Enable subscription" : "Disable subscription",
      question: enabled ? h`Start delivering to <strong>${url}</strong> again?` : h`Stop delivering to <strong>${url}</strong>? Its pending deliveries are cancelled.`,
      submit: enabled ? "Enable" : "Disable",
      danger: !enabled,
      back: `${view.base}/subscriptions/${id}`,
    });
    app.get(`/subscriptions/:subscription_id/${name}`, async (c) => {
      const { page, row } = await subscriptionAction(c);
      return confirmPage(page, confirmation(page, row.subscription_id, row.url));
    });
    app.post(`/subscriptions/:subscription_id/${name}`, async (c) => {
      const { page, row } = await subscriptionAction(c);
      if (!(await setSubscriptionEnabled(ctx, page.auth.orgId, row.subscription_id, enabled, await metaOf(c, false)))) throw new ProblemError("not-found", "no such subscription");
      return done(page, `/subscriptions/${row.subscription_id}`, enabled ? "enabled" : "disabled");
    });
  }

  const rotateConfirmation = (view: View, id: string, url: string): Confirmation => ({
    title: "Rotate signing secret",
    question: h`Create a new signing secret for <strong>${url}</strong>? The new secret is shown once. The old one keeps signing during the overlap, so the receiver can switch.`,
    submit: "Rotate secret",
    danger: true,
    fields: h`<p><label for="overlap">Overlap (hours, 0–720)</label><input id="overlap" name="overlap_hours" type="number" min="0" max="720" value="24" required></p>`,
    back: `${view.base}/subscriptions/${id}`,
  });
  app.get("/subscriptions/:subscription_id/rotate-secret", async (c) => {
    const { page, row } = await subscriptionAction(c);
    return confirmPage(page, rotateConfirmation(page, row.subscription_id, row.url));
  });
  app.post("/subscriptions/:subscription_id/rotate-secret", async (c) => {
    const { page, row } = await subscriptionAction(c);
    // Decimal digits only: Number() would read "", " ", "0x10" and "1e2" as numbers (a missing field as 0 hours).
    const given = await formValue(c, "overlap_hours");
    const hours = /^[0-9]{1,3}$/.test(given ?? "") ? Number(given) : Number.NaN;
    if (!Number.isInteger(hours) || hours < 0 || hours > 720) return confirmPage(page, { ...rotateConfirmation(page, row.subscription_id, row.url), error: "Overlap: a whole number of hours from 0 to 720." }, 400);
    const rotated = await rotateSubscriptionSecret(ctx, page.auth.orgId, row.subscription_id, { overlapSeconds: hours * 3600 }, await metaOf(c, reasonRequired));
    if (!rotated) throw new ProblemError("not-found", "no such subscription");
    // Shown in this answer only: no redirect could carry it without putting it in a URL or storing it.
    const body = h`<div class="panel"><h1>New signing secret</h1><p>Copy it now: it is not shown again. Key id <span class="mono">${rotated.keyId}</span>${rotated.previousExpiresAt ? h`; the previous secret signs until ${rotated.previousExpiresAt.toISOString()}` : ""}.</p>
${secretBox("new-secret", rotated.secret)}
<p><a href="${page.base}/subscriptions/${row.subscription_id}">Back to the subscription</a></p></div>`;
    return render(page, { title: "New signing secret", current: "", body });
  });

  const revealConfirmation = (view: View, id: string, url: string): Confirmation => ({
    title: "Reveal signing secret",
    question: h`Show the secret that signs deliveries to <strong>${url}</strong>? Each reveal is recorded in the audit log.`,
    submit: "Reveal secret",
    back: `${view.base}/subscriptions/${id}`,
  });
  app.get("/subscriptions/:subscription_id/reveal-secret", async (c) => {
    const { page, row } = await subscriptionAction(c);
    return confirmPage(page, revealConfirmation(page, row.subscription_id, row.url));
  });
  app.post("/subscriptions/:subscription_id/reveal-secret", async (c) => {
    const { page, row } = await subscriptionAction(c);
    const revealed = await revealSubscriptionSecret(ctx, page.auth.orgId, row.subscription_id, await metaOf(c, reasonRequired));
    if (!revealed) throw new ProblemError("not-found", "no such subscription");
    // Shown in this answer only (not stored by the browser: every answer is no-store), as a rotation's new secret is.
    const body = h`<div class="panel"><h1>Signing secret</h1><p>The secret that signs deliveries now (key id <span class="mono">${revealed.keyId}</span>). Keep it where your receiver verifies signatures.</p>
${secretBox("revealed-secret", revealed.secret)}
<p><a href="${page.base}/subscriptions/${row.subscription_id}">Back to the subscription</a></p></div>`;
    return render(page, { title: "Signing secret", current: "", body });
  });

  const testConfirmation = (view: View, id: string, url: string): Confirmation => ({
    title: "Send test event",
    question: h`Send a signed <span class="mono">hookledger.ping</span> event to <strong>${url}</strong> now and show the answer?`,
    submit: "Send test event",
    back: `${view.base}/subscriptions/${id}`,
  });
  app.get("/subscriptions/:subscription_id/test", async (c) => {
    const { page, row } = await subscriptionAction(c);
    return confirmPage(page, testConfirmation(page, row.subscription_id, row.url));
  });
  app.post("/subscriptions/:subscription_id/test", async (c) => {
    const { page, row } = await subscriptionAction(c);
    if (!row.enabled) return confirmPage(page, { ...testConfirmation(page, row.subscription_id, row.url), error: "The subscription is disabled; enable it to test it." }, 409);
    const outcome = await testSubscription(ctx, page.auth.orgId, row.subscription_id, await metaOf(c, false));
    if (!outcome) throw new ProblemError("not-found", "no such subscription");
    if (outcome.kind !== "attempted") return confirmPage(page, { ...testConfirmation(page, row.subscription_id, row.url), error: `The test was not sent: ${outcome.reason}` }, 409);
    const attempt = outcome.attempt;
    const body = h`<div class="panel"><h1>Test event ${badge(attempt.outcome)}</h1>
<p>${attempt.status_code !== null ? `HTTP ${attempt.status_code}` : (attempt.error_class ?? "no answer")} in ${attempt.duration_ms} ms${attempt.error_message ? h` — ${attempt.error_message}` : ""}.</p>
<p><a href="${page.base}/deliveries/${attempt.delivery_id}">See the attempt</a> · <a href="${page.base}/subscriptions/${row.subscription_id}">Back to the subscription</a></p></div>`;
    return render(page, { title: "Test event", current: "", body });
  });
}
