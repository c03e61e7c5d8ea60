/**
 * `/v1` routes of the portal: minting portal links, and the origins allowed to embed the portal. Organization
 * tokens only (a portal is handed to an application's customer by the organization). A link grants the portal's
 * scopes (a read-only link their read part), so the minting token must hold every one of them: a link never
 * carries more authority than its maker.
 */
import { Hono } from "hono";
import * as v from "valibot";
import { boundedArray, exactObject } from "../http/fields.ts";
import type { AppContext } from "../context.ts";
import type { HttpEnv } from "../http/env.ts";
import { named, timestamp } from "../http/responses.ts";
import { ProblemError } from "../http/problem.ts";
import { answersSecretShownOnce } from "../http/secretShownOnce.ts";
import { readJson, readOptionalJson } from "../http/validate.ts";
import { auditMeta } from "../tenancy/audit.ts";
import { requireOrganizationToken, requireScope } from "../tenancy/authorize.ts";
import { applicationIdInPath } from "../tenancy/routes/applicationInPath.ts";
import { createPortalLink, portalOrigins, setPortalOrigins } from "./portalLinks.ts";
import { isFrameAncestorOrigin } from "./security.ts";
import { PORTAL_READ_SCOPES, PORTAL_SCOPES } from "./sessions.ts";

const MAX_ORIGINS = 20;

/**
 * An origin exactly as a browser sends it (`https://app.example.com[:port]`), the form CSP frame-ancestors takes;
 * the header writes only values that pass the same check (security.ts `isFrameAncestorOrigin`).
 */
const originField = v.pipe(
  v.string(),
  v.maxLength(300, "at most 300 characters"),
  v.check(
    isFrameAncestorOrigin,
    "expected an origin such as https://app.example.com or https://*.example.com: http or https, a lower-case host name (letters, digits, hyphens, dots), IPv4 or [IPv6] address, an optional port 1-65535 other than the default; no path, trailing slash or other characters",
  ),
);

export const portalSettingsBody = exactObject({
  allowed_origins: boundedArray(originField, MAX_ORIGINS, `at most ${MAX_ORIGINS} origins`),
});

/** The body of a link's mint, which may be left out: a link that may change the application's endpoints. */
export const portalLinkBody = exactObject({
  /** The session the link opens reads only: no endpoint changes, retries, replays, tests or secret reveals. */
  read_only: v.optional(v.boolean(), false),
});

export const portalLinkJson = named(
  "PortalLink",
  v.object({
    id: v.string(),
    app_id: v.string(),
    /** Open it (or frame it) once, before `expires_at`: it is exchanged for a portal session and spent. */
    url: v.string(),
    expires_at: timestamp,
    read_only: v.boolean(),
  }),
);
export const portalSettingsJson = named("PortalSettings", v.object({ allowed_origins: v.array(v.string()) }));

export function portalApiRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();

  app.post("/applications/:app_id/portal-links", async (c) => {
    const auth = c.get("auth");
    requireOrganizationToken(auth);
    const body = await readOptionalJson(c, portalLinkBody);
    for (const scope of body.read_only ? PORTAL_READ_SCOPES : PORTAL_SCOPES) requireScope(auth, scope);
    const appId = await applicationIdInPath(ctx, c);
    const created = await createPortalLink(ctx, auth.orgId, auth.tokenId, appId, body.read_only, auditMeta(c));
    if (!created) throw new ProblemError("not-found", "no such application");
    const reply: v.InferOutput<typeof portalLinkJson> = {
      id: created.linkId,
      app_id: appId,
      url: `${ctx.config.HOOKLEDGER_PUBLIC_URL ?? new URL(c.req.url).origin}/portal/enter?link=${created.link}`,
      expires_at: created.expiresAt.toISOString(),
      read_only: body.read_only,
    };
    // The link is a credential until it is spent: a repeat must not get a copy of it.
    answersSecretShownOnce(c);
    return c.json(reply, 201);
  });

  app.get("/portal-settings", async (c) => {
    const auth = c.get("auth");
    requireOrganizationToken(auth);
    requireScope(auth, "admin");
    const reply: v.InferOutput<typeof portalSettingsJson> = { allowed_origins: await portalOrigins(ctx, auth.orgId) };
    return c.json(reply);
  });

  app.patch("/portal-settings", async (c) => {
    const auth = c.get("auth");
    requireOrganizationToken(auth);
    requireScope(auth, "admin");
    const body = await readJson(c, portalSettingsBody);
    const origins = [...new Set(body.allowed_origins)];
    const reply: v.InferOutput<typeof portalSettingsJson> = { allowed_origins: await setPortalOrigins(ctx, auth.orgId, origins, auditMeta(c)) };
    return c.json(reply);
  });

  return app;
}
