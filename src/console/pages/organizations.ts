/**
 * What the instance admin sees: organizations, and a form that creates one with its first admin token, so the
 * token printed by the first `npm start` is enough to get from nothing to a tenant's console. It calls the
 * commands behind POST /v1/organizations and POST /v1/organizations/{id}/tokens, after the same check.
 */
import type { Context, Hono } from "hono";
import * as v from "valibot";
import type { AppContext } from "../../context.ts";
import type { HttpEnv } from "../../http/env.ts";
import { requireInstanceAdmin } from "../../tenancy/authorize.ts";
import { createOrganization, listAllOrganizations } from "../../tenancy/organizations.ts";
import { organizationCreateBody } from "../../tenancy/routes/organizations.ts";
import { createToken } from "../../tenancy/tokens.ts";
import { auditMeta } from "../../tenancy/audit.ts";
import { formText, readForm } from "../formInput.ts";
import { h, secretBox, table, time } from "../html.ts";
import { isSecureRequest, issueSignInToken } from "../security.ts";
import { render, viewOf, type View } from "../view.ts";

const LIMIT = 200;

async function organizationsPage(view: View, error?: string): Promise<Response> {
  requireInstanceAdmin(view.auth);
  const organizations = (await listAllOrganizations(view.ctx, { limit: LIMIT })).slice(0, LIMIT);
  const rows = organizations.map((org) => h`<tr><td>${org.name}</td><td class="mono muted">${org.id}</td><td>${time(org.created_at)}</td></tr>`);
  const body = h`<h1>Organizations</h1>
<p class="muted">The instance admin token manages organizations. Create one with its first admin token, then use the console as that organization.</p>
<form class="panel filters" method="post" action="${view.base}/organizations"><input type="hidden" name="csrf" value="${view.csrf}">
<div><label for="org-name">New organization</label><input id="org-name" name="name" required maxlength="200" placeholder="Acme"></div>
<div><label for="reason">Reason (audit log)</label><input id="reason" name="reason" maxlength="1000"></div>
<button>Create organization</button></form>
${table("Organizations", ["Name", "Id", "Created"], rows, "No organizations yet.")}`;
  return render(view, { title: "Organizations", current: `${view.base}/organizations`, body, ...(error ? { flash: { kind: "error" as const, text: error }, status: 400 as const } : {}) });
}

export function registerOrganizationPages(app: Hono<HttpEnv>, ctx: AppContext): void {
  const view = (c: Context<HttpEnv>) => viewOf(ctx, c, "console");
  app.get("/organizations", (c) => organizationsPage(view(c)));
  app.post("/organizations", async (c) => {
    const page = view(c);
    requireInstanceAdmin(page.auth);
    const form = await readForm(c);
    const parsed = v.safeParse(organizationCreateBody, { name: formText(form, "name") });
    if (!parsed.success) return organizationsPage(page, `Name: ${parsed.issues[0]?.message ?? "not valid"}`);
    const reason = formText(form, "reason", 1000);
    const meta = { ...auditMeta(c), ...(reason ? { reason } : {}) };
    const org = await createOrganization(ctx, parsed.output, meta);
    const token = await createToken(ctx, org.id, { label: `${org.name} admin (console)`, scopes: ["admin"], appId: null, expiresAt: null }, meta);
    // The token is shown in this answer only; "Continue" signs in with it through the ordinary sign-in form.
    const signInCsrf = issueSignInToken(c, isSecureRequest(c, ctx.config.HOOKLEDGER_TRUST_PROXY));
    const body = h`<div class="panel"><h1>Organization ${org.name} created</h1>
<p>Its first admin token is shown once. Store it now (a password manager, your deployment's secrets): the API and the console take it.</p>
${secretBox("new-token", token.token)}
<form method="post" action="/console/sign-in"><input type="hidden" name="csrf" value="${signInCsrf}"><input type="hidden" name="token" value="${token.token}">
<div class="actions"><button>Continue as ${org.name}</button><a class="button secondary" href="${page.base}/organizations">Back to organizations</a></div></form></div>`;
    return render(page, { title: "Organization created", current: `${page.base}/organizations`, body });
  });
}
