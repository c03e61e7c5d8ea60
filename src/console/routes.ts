/**
 * The web console (`/console`) and the portal (`/portal`): one router per surface, served by the API process.
 * Sign-in exchanges a token for a session; every other page runs with the session's principal set as `auth`,
 * exactly as bearer authentication sets it for `/v1`, so pages and actions go through the JSON API's checks
 * (requireScope, requireAppAccess) and its stores and commands, under the same row-level security.
 */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppContext } from "../context.ts";
import type { HttpEnv } from "../http/env.ts";
import type { BodyBudget } from "../http/bodyBudget.ts";
import { identityEncodingOnly, limitBody } from "../http/limits.ts";
import { methodNotAllowed, ProblemError, secretUnavailableProblem } from "../http/problem.ts";
import { logSecretUnavailable } from "../http/app.ts";
import { auditMeta, requestMeta } from "../tenancy/audit.ts";
import type { TokenCache } from "../tenancy/tokenCache.ts";
import { assertAcceptableInput, formText, readForm } from "./formInput.ts";
import { h, page } from "./html.ts";
import { registerActions } from "./actions.ts";
import { registerSubscriptionForms } from "./subscriptionForms.ts";
import { registerPages } from "./pages/index.ts";
import { registerOrganizationPages } from "./pages/organizations.ts";
import { portalLinkTarget, portalOrigins, redeemPortalLink } from "./portalLinks.ts";
import { crossSite, formTokenValid, isSecureRequest, issueSignInToken, pageSecurity, signInTokenValid } from "./security.ts";
import { findSession, signOut, type Surface } from "./sessions.ts";
import { signIn } from "./signIn.ts";
import { render, viewOf } from "./view.ts";

const COOKIE: Record<Surface, string> = { console: "hl_console", portal: "hl_portal" };
const FORM_BYTES = 64 * 1024;

function plainPage(c: Context<HttpEnv>, title: string, body: ReturnType<typeof h>, status: 200 | 400 | 401 | 403 | 404 | 409 | 413 = 200): Response {
  return c.html(page({ title, nonce: c.get("cspNonce"), body }), status);
}

function sessionCookie(ctx: AppContext, c: Context<HttpEnv>, surface: Surface, value: string, expiresAt: Date): void {
  const secure = isSecureRequest(c, ctx.config.HOOKLEDGER_TRUST_PROXY);
  // A portal framed by the tenant's own site is a third-party context: a Strict cookie would never be sent there.
  // Over TLS it is SameSite=None and Partitioned (kept apart per embedding site); CSRF tokens guard its forms.
  // Without TLS (or behind a proxy not trusted to say so) it is Lax: portal links are opened from the tenant's own
  // site, and a Strict cookie set by that cross-site navigation was not sent on its own redirect to the portal, which
  // answered "session ended" with the one-time link spent.
  const crossSiteFrame = surface === "portal" && secure;
  setCookie(c, COOKIE[surface], value, {
    path: `/${surface}`,
    httpOnly: true,
    secure,
    sameSite: crossSiteFrame ? "None" : surface === "portal" ? "Lax" : "Strict",
    ...(crossSiteFrame ? { partitioned: true } : {}),
    expires: expiresAt,
  });
}

/**
 * The doors served before any session (the portal's link exchange, the console's sign-in) answer any other method
 * 405 with `Allow`, as every path does. Without this the method fell through to the session check: `PUT
 * /portal/enter?link=…` answered the portal's 401 "session ended" page, and the console's sign-in a 303 to itself.
 * Registered after the door's own handlers and before the session check, so it runs only for the methods those do
 * not serve, and never reads the link (which stays unspent).
 */
function refuseOtherMethods(app: Hono<HttpEnv>, path: string, allow: readonly string[]): void {
  app.all(path, (c) => {
    throw methodNotAllowed(c.req.method, allow);
  });
}

/** Sets the session (and `auth`) for a page, or answers: sign in again, or the portal link has run out. */
function requireSession(ctx: AppContext, surface: Surface): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const found = await findSession(ctx, surface, getCookie(c, COOKIE[surface]));
    if (found.kind !== "active") {
      if (surface === "console") return c.redirect(`/console/sign-in${found.kind === "expired" ? "?expired=1" : ""}`, 303);
      return plainPage(c, "Portal session ended", h`<div class="panel signin"><h1>This portal session has ended</h1><p>Open the portal again from the application that sent you here.</p></div>`, 401);
    }
    const session = found.session;
    c.set("consoleSession", session);
    c.set("auth", session.principal);
    if (surface === "portal") c.set("frameAncestors", await portalOrigins(ctx, session.principal.orgId));
    if (c.req.method === "POST") {
      const form = await readForm(c);
      if (!formTokenValid(c, session, form.fields.csrf)) {
        return plainPage(c, "Form refused", h`<div class="panel signin"><h1>This form was refused</h1><p>It did not carry this session's form token (CSRF protection). Reload the page and submit it again.</p></div>`, 403);
      }
    }
    await assertAcceptableInput(c);
    await next();
  };
}

/** The console's or the portal's pages; their forms' bodies are held in `bodies`, the process's budget. */
export function surfaceRoutes(ctx: AppContext, surface: Surface, tokens: TokenCache, bodies: BodyBudget): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.use(pageSecurity());
  // A content-coded form is refused as a coded /v1 body is (415): forms are read as sent, and a gzipped one reached
  // the CSRF check as its compressed bytes.
  app.use(identityEncodingOnly());
  app.use(limitBody(FORM_BYTES, bodies));

  if (surface === "console") {
    const signInForm = (c: Context<HttpEnv>, message?: string, status: 200 | 400 | 401 | 403 = 200) => {
      const csrf = issueSignInToken(c, isSecureRequest(c, ctx.config.HOOKLEDGER_TRUST_PROXY));
      return plainPage(
        c,
        "Sign in",
        h`<div class="panel signin"><h1>Sign in to hookledger</h1>
${message ? h`<div class="flash error" role="alert">${message}</div>` : ""}
<form method="post" action="/console/sign-in">
<input type="hidden" name="csrf" value="${csrf}">
<p><label for="token">API token</label><input id="token" name="token" type="password" autocomplete="off" required spellcheck="false" size="40" aria-describedby="token-help"></p>
<p id="token-help" class="muted">An organization or application token (or the instance admin token, to create organizations). It is exchanged for a session cookie and is not kept in the browser.</p>
<button>Sign in</button></form></div>`,
        status,
      );
    };
    app.get("/sign-in", async (c) => {
      await assertAcceptableInput(c);
      return signInForm(c, c.req.query("expired") ? "Your session expired. Sign in again." : undefined);
    });
    app.post("/sign-in", async (c) => {
      const form = await readForm(c);
      if (!signInTokenValid(c, form.fields.csrf)) return signInForm(c, "The form expired. Sign in again.", 403);
      await assertAcceptableInput(c);
      const result = await signIn(ctx, tokens, formText(form, "token"), requestMeta(c));
      if (result.kind === "refused") {
        return signInForm(c, "That token is not valid.", 401);
      }
      sessionCookie(ctx, c, "console", result.credential.value, result.expiresAt);
      deleteCookie(c, "hl_console_form", { path: "/console" });
      return c.redirect(result.instanceAdmin ? "/console/organizations" : "/console/overview", 303);
    });
    refuseOtherMethods(app, "/sign-in", ["GET", "POST"]);
  } else {
    // The link is spent on first use, so a link copied from a log or history is worthless afterwards.
    app.get("/enter", async (c) => {
      await assertAcceptableInput(c);
      const link = c.req.query("link");
      const open = crossSite(c) ? await findSession(ctx, "portal", getCookie(c, COOKIE.portal)) : undefined;
      if (open?.kind === "active") {
        // Another site sent this browser, which has a portal session open, to a link: any site can (a login CSRF
        // that swaps the visitor's session for the sender's). Unless the link opens the same application, the
        // visitor confirms on a page of ours first; the link stays unspent until then.
        const target = await portalLinkTarget(ctx, link);
        const current = open.session.principal;
        if (target && (target.orgId !== current.orgId || target.appId !== current.appId)) {
          return plainPage(
            c,
            "Open another portal?",
            h`<div class="panel signin"><h1>Open another portal?</h1><p>This browser has a portal session open. The link you followed opens the portal of another application, in its place. Open it only if you expected to.</p>
<p><a class="button" href="/portal/enter?link=${encodeURIComponent(link ?? "")}">Open the other portal</a> <a href="/portal/">Stay where I was</a></p></div>`,
          );
        }
      }
      const credential = await redeemPortalLink(ctx, link, requestMeta(c));
      if (!credential) {
        return plainPage(c, "Link not valid", h`<div class="panel signin"><h1>This portal link is not valid</h1><p>Portal links work once and for a few minutes. Ask for a new one.</p></div>`, 404);
      }
      c.set("frameAncestors", await portalOrigins(ctx, credential.orgId));
      const found = await findSession(ctx, "portal", credential.value);
      if (found.kind !== "active") throw new ProblemError("not-found", "no such session");
      sessionCookie(ctx, c, "portal", credential.value, found.session.expiresAt);
      return c.redirect(`/portal/applications/${found.session.principal.appId ?? ""}`, 303);
    });
    refuseOtherMethods(app, "/enter", ["GET"]);
  }

  app.use(requireSession(ctx, surface));

  if (surface === "console") {
    app.post("/sign-out", async (c) => {
      await signOut(ctx, c.get("consoleSession"), auditMeta(c));
      deleteCookie(c, COOKIE.console, { path: "/console" });
      return c.redirect("/console/sign-in", 303);
    });
  }
  app.get("/", (c) => {
    const auth = c.get("auth");
    if (surface === "portal") return c.redirect(`/portal/applications/${auth.appId ?? ""}`, 303);
    return c.redirect(auth.kind === "instance_admin" ? "/console/organizations" : "/console/overview", 303);
  });
  if (surface === "console") registerOrganizationPages(app, ctx);
  registerPages(app, ctx, surface);
  registerActions(app, ctx, surface);
  registerSubscriptionForms(app, ctx, surface);

  app.notFound((c) => plainPage(c, "Not found", h`<div class="panel"><h1>Not found</h1><p>There is no such page.</p></div>`, 404));
  app.onError((error, c) => {
    // A secret the keyring cannot open (reveal, test, keeping a sealed header) is a page too, saying what to tell the
    // operator, not the generic error page: the person can do nothing else about it.
    const unopened = secretUnavailableProblem(error);
    if (unopened && c.get("consoleSession")) {
      logSecretUnavailable(ctx, c.get("requestId"), c.req.path, error);
      const body = h`<div class="panel"><h1>Secret unavailable</h1><p>This instance cannot open a secret this action needs: it is stored under an encryption key the instance's keyring does not hold, or the stored value was changed. Nothing was done. Ask the operator to check <span class="mono">HOOKLEDGER_ENCRYPTION_KEYS</span> and run <span class="mono">hookledger reencrypt --dry-run</span>.</p></div>`;
      return render(viewOf(ctx, c, surface), { title: "Secret unavailable", current: "", body, status: 503 });
    }
    // Refusals a person can act on become a page (a form over its size limit too: shorten it); anything else (429,
    // 5xx) is answered by the app's handler.
    if (!(error instanceof ProblemError) || ![400, 403, 404, 409, 413, 422].includes(error.status)) throw error;
    const status = error.status as 400 | 403 | 404 | 409 | 413 | 422;
    const title = status === 404 ? "Not found" : status === 403 ? "Not allowed" : status === 413 ? "Too large" : "Not possible";
    const fields = error.extras.errors ?? [];
    const body = h`<div class="panel"><h1>${title}</h1><p>${error.message}</p>${fields.length > 0 ? h`<ul>${fields.map((item) => h`<li><span class="mono">${item.field}</span>: ${item.message}</li>`)}</ul>` : ""}</div>`;
    if (c.get("consoleSession")) return render(viewOf(ctx, c, surface), { title, current: "", body, status });
    return plainPage(c, title, body, status === 422 ? 400 : status);
  });
  return app;
}

