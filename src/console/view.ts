/** What every signed-in page handler has at hand, and how it answers with a page. */
import type { Context } from "hono";
import type { AppContext } from "../context.ts";
import type { HttpEnv } from "../http/env.ts";
import type { Principal } from "../tenancy/principal.ts";
import { hasScope } from "../tenancy/scopes.ts";
import { page, type Html, type NavItem, type PageFrame } from "./html.ts";
import { csrfTokenOf } from "./security.ts";
import type { Session, Surface } from "./sessions.ts";

export interface View {
  ctx: AppContext;
  c: Context<HttpEnv>;
  surface: Surface;
  /** `/console` or `/portal`: every link and form action starts with it. */
  base: string;
  session: Session;
  auth: Principal;
  nonce: string;
  csrf: string;
  now: Date;
}

export function viewOf(ctx: AppContext, c: Context<HttpEnv>, surface: Surface): View {
  const session = c.get("consoleSession");
  return {
    ctx,
    c,
    surface,
    base: `/${surface}`,
    session,
    auth: session.principal,
    nonce: c.get("cspNonce"),
    csrf: csrfTokenOf(session),
    now: ctx.now(),
  };
}

function navOf(view: View): NavItem[] {
  const { base, auth } = view;
  if (view.surface === "portal") {
    return [
      { href: `${base}/applications/${auth.appId ?? ""}`, label: "Endpoints" },
      { href: `${base}/events`, label: "Events" },
    ];
  }
  if (auth.kind === "instance_admin") return [{ href: `${base}/organizations`, label: "Organizations" }];
  const items: NavItem[] = [
    { href: `${base}/overview`, label: "Overview" },
    { href: `${base}/applications`, label: "Applications" },
    { href: `${base}/events`, label: "Events" },
  ];
  if (hasScope(auth.scopes, "ingress:read") && auth.appId === null) {
    if (auth.queues === null) items.push({ href: `${base}/ingress`, label: "Ingress" });
    items.push({ href: `${base}/queues`, label: "Pull queues" });
  }
  return items;
}

export interface Rendered {
  title: string;
  /** The navigation entry this page belongs to (its href). */
  current: string;
  body: Html;
  flash?: PageFrame["flash"];
  status?: 200 | 400 | 403 | 404 | 409 | 413 | 422 | 503;
}

/** Outcomes an action redirects with (`?done=`): fixed texts, so nothing from the URL is ever shown. */
function doneFlash(done: string | undefined): PageFrame["flash"] | undefined {
  if (!done) return undefined;
  const texts: Record<string, string> = {
    retried: "the delivery is queued for another attempt now.",
    replayed: "the event is queued for delivery again.",
    enabled: "the subscription is enabled.",
    saved: "the endpoint is saved.",
    disabled: "the subscription is disabled; its pending deliveries were cancelled.",
  };
  const recovered = /^recovered-(\d{1,9})(-more)?$/.exec(done);
  if (recovered) return { kind: "ok", text: `${recovered[1]} deliveries are queued again.${recovered[2] ? " More remain: recover again to queue the next 1,000." : ""}` };
  const text = texts[done];
  return text ? { kind: "ok", text } : undefined;
}

export function render(view: View, rendered: Rendered): Response {
  const flash = rendered.flash ?? doneFlash(view.c.req.query("done"));
  const who = view.surface === "portal" ? "Portal" : view.auth.kind === "instance_admin" ? "Instance admin" : `${view.auth.label}${view.auth.appId ? " (application token)" : ""}`;
  const body = page({
    title: rendered.title,
    nonce: view.nonce,
    chrome: { nav: navOf(view), current: rendered.current, who, ...(view.surface === "console" ? { signOut: { action: `${view.base}/sign-out`, csrf: view.csrf } } : {}) },
    ...(flash ? { flash } : {}),
    body: rendered.body,
  });
  return view.c.html(body, rendered.status ?? 200);
}
