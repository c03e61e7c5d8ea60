/**
 * A console session over plain HTTP, for tests that need no browser: signs in through the sign-in form (its
 * cookie and form token) and posts forms with the session's CSRF token, read from a signed-in page.
 */
import { createHmac } from "node:crypto";
import type { TestApp } from "./app.ts";

export interface ConsoleSession {
  /** GET a console path with the session cookie; redirects are not followed. */
  get(path: string): Promise<Response>;
  /**
   * POST a form with the session cookie and CSRF token. `encoded` is the rest of the body exactly as sent
   * (`name=a%00b&reason=x`), so tests can send bytes URLSearchParams would never write.
   */
  post(path: string, encoded: string): Promise<Response>;
}

const cookieOf = (response: Response, name: string): string => {
  const found = response.headers.getSetCookie().find((cookie) => cookie.startsWith(`${name}=`));
  if (!found) throw new Error(`no ${name} cookie in the answer (${response.status})`);
  return found.split(";")[0] as string;
};

const csrfOf = (html: string): string => {
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error("no CSRF token in the page");
  return token;
};

const FORM = { "content-type": "application/x-www-form-urlencoded" };

export async function consoleSession(app: TestApp, token: string): Promise<ConsoleSession> {
  const form = await app.fetch("/console/sign-in");
  const formCookie = cookieOf(form, "hl_console_form");
  const signIn = await app.fetch("/console/sign-in", {
    method: "POST",
    headers: { ...FORM, cookie: formCookie },
    body: new URLSearchParams({ csrf: csrfOf(await form.text()), token }).toString(),
    redirect: "manual",
  });
  if (signIn.status !== 303) throw new Error(`sign-in answered ${signIn.status}`);
  const cookie = cookieOf(signIn, "hl_console");
  const get = (path: string) => app.fetch(path, { headers: { cookie }, redirect: "manual" });
  const landing = await get(signIn.headers.get("location") ?? "/console/overview");
  const csrf = csrfOf(await landing.text());
  return {
    get,
    post: (path, encoded) => app.fetch(path, { method: "POST", headers: { ...FORM, cookie }, body: `csrf=${encodeURIComponent(csrf)}&${encoded}`, redirect: "manual" }),
  };
}

/** A portal session over plain HTTP: opens a portal link (spending it) and posts forms as the portal's pages do. */
export async function portalSession(app: TestApp, linkUrl: string): Promise<ConsoleSession & { landing: string }> {
  const { pathname, search } = new URL(linkUrl);
  const entered = await app.fetch(`${pathname}${search}`, { redirect: "manual" });
  if (entered.status !== 303) throw new Error(`the portal link answered ${entered.status}`);
  const cookie = cookieOf(entered, "hl_portal");
  const landing = entered.headers.get("location") ?? "/portal/";
  const get = (path: string) => app.fetch(path, { headers: { cookie }, redirect: "manual" });
  // A read-only session's pages carry no form to read the token from; it is derived from the cookie as the
  // service derives it (console/security.ts csrfTokenOf), so refusals are refusals of the session, not of the form.
  const csrf = createHmac("sha256", decodeURIComponent(cookie.slice(cookie.indexOf("=") + 1))).update("hookledger console form").digest("base64url");
  return {
    landing,
    get,
    post: (path, encoded) => app.fetch(path, { method: "POST", headers: { ...FORM, cookie }, body: `csrf=${encodeURIComponent(csrf)}&${encoded}`, redirect: "manual" }),
  };
}
