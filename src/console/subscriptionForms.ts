/**
 * Adding and editing an endpoint from the console or the portal. The form is validated with the JSON API's own
 * request schemas (subscriptionSchemas) and the egress check (assertDeliverable), then handed to the same commands
 * (createSubscription, updateSubscription); refusals are shown beside the form instead of as problem+json.
 */
import type { Context, Hono } from "hono";
import * as v from "valibot";
import type { AppContext } from "../context.ts";
import type { HttpEnv } from "../http/env.ts";
import { ProblemError } from "../http/problem.ts";
import { assertDeliverable, subscriptionSchemas } from "../outbound/routes/subscriptions.ts";
import { createSubscription, UnknownApplicationError, updateSubscription } from "../outbound/subscriptions.ts";
import { auditMeta, auditReason } from "../tenancy/audit.ts";
import { requireScope } from "../tenancy/authorize.ts";
import { formText, readForm } from "./formInput.ts";
import { h, secretBox, type Html } from "./html.ts";
import { loadApplication } from "./pages/applications.ts";
import { loadSubscription } from "./pages/subscription.ts";
import type { Surface } from "./sessions.ts";
import { render, viewOf, type View } from "./view.ts";

interface EndpointForm {
  url: string;
  event_types: string;
  /** Comma-separated channel names; empty: none (events whatever their channels). */
  channels: string;
  description: string;
}

async function readEndpointForm(c: Context<HttpEnv>): Promise<EndpointForm & { reason: string }> {
  const form = await readForm(c);
  return {
    url: formText(form, "url"),
    event_types: formText(form, "event_types"),
    channels: formText(form, "channels"),
    description: formText(form, "description"),
    reason: auditReason(formText(form, "reason", 1000), "reason") ?? "",
  };
}

/** The JSON the API would have received for this form. */
const asJson = (form: EndpointForm) => ({
  url: form.url,
  event_types: form.event_types.split(/[\s,]+/).filter(Boolean),
  channels: form.channels.split(/[\s,]+/).filter(Boolean),
  description: form.description || null,
});

/** Field messages of a refusal: valibot issues, or the problem's `errors`. */
function messagesOf(error: v.BaseIssue<unknown>[] | ProblemError): string[] {
  if (error instanceof ProblemError) {
    return error.extras.errors?.map((item) => `${item.field}: ${item.message}`) ?? [error.message];
  }
  return error.map((issue) => `${issue.path?.map((item) => String(item.key)).join(".") || "form"}: ${issue.message}`);
}

function formPage(view: View, title: string, action: string, back: string, form: EndpointForm, errors: string[] = []): Response {
  const field = (name: keyof EndpointForm, label: string, input: Html, help?: string) =>
    h`<p><label for="${name}">${label}</label>${input}${help ? h`<span class="muted" id="${name}-help"> ${help}</span>` : ""}</p>`;
  const body = h`<div class="panel signin"><h1>${title}</h1>
${errors.length > 0 ? h`<div class="flash error" role="alert"><strong>Not saved: </strong><ul>${errors.map((message) => h`<li>${message}</li>`)}</ul></div>` : ""}
<form method="post" action="${action}"><input type="hidden" name="csrf" value="${view.csrf}">
${field("url", "Endpoint URL", h`<input id="url" name="url" type="url" required size="40" value="${form.url}" placeholder="https://example.com/webhooks">`)}
${field("event_types", "Event types", h`<input id="event_types" name="event_types" required size="40" value="${form.event_types}" aria-describedby="event_types-help">`, "Comma-separated; prefix.* or * match several.")}
${field("channels", "Channels", h`<input id="channels" name="channels" size="40" value="${form.channels}" aria-describedby="channels-help">`, "Comma-separated; events carrying one of them only. Empty: events whatever their channels.")}
${field("description", "Description", h`<input id="description" name="description" size="40" value="${form.description}">`)}
<p><label for="reason">Reason (kept in the audit log)</label><textarea id="reason" name="reason" maxlength="1000"></textarea></p>
<div class="actions"><button>Save</button><a class="button secondary" href="${back}">Cancel</a></div></form></div>`;
  return render(view, { title, current: "", body, ...(errors.length > 0 ? { status: 400 as const } : {}) });
}

export function registerSubscriptionForms(app: Hono<HttpEnv>, ctx: AppContext, surface: Surface): void {
  const schemas = subscriptionSchemas(ctx.config);
  const view = (c: Context<HttpEnv>) => viewOf(ctx, c, surface);

  app.get("/applications/:app_id/new-subscription", async (c) => {
    const page = view(c);
    requireScope(page.auth, "subscriptions:write");
    const appId = (await loadApplication(page, c.req.param("app_id"))).id;
    return formPage(page, "Add endpoint", `${page.base}/applications/${appId}/new-subscription`, `${page.base}/applications/${appId}`, { url: "", event_types: "*", channels: "", description: "" });
  });
  app.post("/applications/:app_id/new-subscription", async (c) => {
    const page = view(c);
    requireScope(page.auth, "subscriptions:write");
    const appId = (await loadApplication(page, c.req.param("app_id"))).id;
    const form = await readEndpointForm(c);
    const show = (errors: string[]) => formPage(page, "Add endpoint", `${page.base}/applications/${appId}/new-subscription`, `${page.base}/applications/${appId}`, form, errors);
    const parsed = v.safeParse(schemas.create, { app_id: appId, ...asJson(form) });
    if (!parsed.success) return show(messagesOf(parsed.issues));
    const { app_id, secret: _none, ...fields } = parsed.output;
    try {
      await assertDeliverable(ctx, fields.url);
      const created = await createSubscription(ctx, page.auth.orgId, { ...fields, appId: app_id }, { ...auditMeta(c), ...(form.reason ? { reason: form.reason } : {}) });
      const body = h`<div class="panel"><h1>Endpoint added</h1><p>Deliveries to <strong>${created.subscription.url}</strong> are signed with this secret. Copy it now: it is not shown again.</p>
${secretBox("new-secret", created.secret)}
<p><a href="${page.base}/subscriptions/${created.subscription.subscription_id}">Go to the endpoint</a></p></div>`;
      return render(page, { title: "Endpoint added", current: "", body });
    } catch (error) {
      if (error instanceof UnknownApplicationError) throw new ProblemError("not-found", "no such application");
      if (error instanceof ProblemError && error.status === 400) return show(messagesOf(error));
      throw error;
    }
  });

  app.get("/subscriptions/:subscription_id/edit", async (c) => {
    const page = view(c);
    requireScope(page.auth, "subscriptions:write");
    const row = await loadSubscription(page, c.req.param("subscription_id"));
    const back = `${page.base}/subscriptions/${row.subscription_id}`;
    return formPage(page, "Edit endpoint", `${back}/edit`, back, { url: row.url, event_types: row.event_types.join(", "), channels: (row.channels ?? []).join(", "), description: row.description ?? "" });
  });
  app.post("/subscriptions/:subscription_id/edit", async (c) => {
    const page = view(c);
    requireScope(page.auth, "subscriptions:write");
    const row = await loadSubscription(page, c.req.param("subscription_id"));
    const back = `${page.base}/subscriptions/${row.subscription_id}`;
    const form = await readEndpointForm(c);
    const parsed = v.safeParse(schemas.update, asJson(form));
    if (!parsed.success) return formPage(page, "Edit endpoint", `${back}/edit`, back, form, messagesOf(parsed.issues));
    try {
      if (parsed.output.url && parsed.output.url !== row.url) await assertDeliverable(ctx, parsed.output.url);
    } catch (error) {
      if (error instanceof ProblemError && error.status === 400) return formPage(page, "Edit endpoint", `${back}/edit`, back, form, messagesOf(error));
      throw error;
    }
    if (!(await updateSubscription(ctx, page.auth.orgId, row.subscription_id, parsed.output, { ...auditMeta(c), ...(form.reason ? { reason: form.reason } : {}) }))) {
      throw new ProblemError("not-found", "no such subscription");
    }
    return c.redirect(`${back}?done=saved`, 303);
  });
}
