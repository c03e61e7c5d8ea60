/**
 * What keeps console pages inert and their forms honest:
 * - a content security policy with a fresh nonce per response (scripts and styles run only with it; no inline
 *   attributes, no eval, forms post only to this origin), `frame-ancestors 'none'` unless the portal's
 *   organization allows origins to embed it;
 * - CSRF: every form carries a token derived from the session cookie (HMAC, so nothing is stored and an attacker,
 *   who cannot read the HttpOnly cookie, cannot compute it); the sign-in form, before any session, compares a
 *   field with a cookie set when the form was shown; a request a browser marks as cross-site is refused outright.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { HttpEnv } from "../http/env.ts";
import { forwardedProto } from "../http/forwarded.ts";
import type { Session } from "./sessions.ts";

declare module "../http/env.ts" {
  interface HttpVariables {
    /** Nonce of this response's CSP: every <script> and <style> of a console page carries it. */
    cspNonce: string;
    /** Console and portal pages: the signed-in session. */
    consoleSession: Session;
    /** Portal pages: origins allowed to frame them (CSP frame-ancestors). */
    frameAncestors: string[];
  }
}

/**
 * `http(s)://host[:port]`, lower-case: the host a DNS name of letters, digits and hyphens in dot-separated labels
 * (optionally under a leading `*.` wildcard, which CSP host sources allow), an IPv4 literal (digits and dots, so the
 * same pattern) or a bracketed IPv6 literal. Narrower than what the WHATWG URL parser takes as a host on purpose: it
 * accepts `; , ' " ! $ & ( ) *`, and a stored `https://a;sandbox` or `https://a.com,'unsafe-inline'` went verbatim
 * into `frame-ancestors`, adding a directive or a second policy.
 */
const FRAME_ANCESTOR_SHAPE = /^https?:\/\/(?:(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:]+\])(?::([0-9]{1,5}))?$/;

/** Whether a port, when there is one, is 1–65535. */
const validPort = (port: string | undefined): boolean => port === undefined || (Number(port) >= 1 && Number(port) <= 65535);

/** Whether the URL parser serializes the value to itself: no default port, no leading zeros, a canonical IP literal. */
function serializesToItself(raw: string): boolean {
  try {
    return new URL(raw).origin === raw;
  } catch {
    return false;
  }
}

/**
 * Whether a value may stand in the portal's `frame-ancestors`: an origin exactly as a browser sends it, in the
 * shape above. PATCH /v1/portal-settings refuses anything else, and the header skips anything else too, so a value
 * stored before this check existed cannot inject either.
 */
export function isFrameAncestorOrigin(raw: string): boolean {
  const shape = FRAME_ANCESTOR_SHAPE.exec(raw);
  return shape !== null && validPort(shape[1]) && serializesToItself(raw);
}

/** The `frame-ancestors` directive: the allowed origins that pass the check, or `'none'` when none does. */
export function frameAncestorsDirective(origins: readonly string[]): string {
  const allowed = origins.filter(isFrameAncestorOrigin);
  return `frame-ancestors ${allowed.length > 0 ? allowed.join(" ") : "'none'"}`;
}

export function pageSecurity(): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const nonce = randomBytes(18).toString("base64");
    c.set("cspNonce", nonce);
    await next();
    const ancestors = c.get("frameAncestors") ?? [];
    c.res.headers.set(
      "Content-Security-Policy",
      [
        "default-src 'none'",
        `script-src 'nonce-${nonce}'`,
        `style-src 'nonce-${nonce}'`,
        "img-src 'self' data:",
        "form-action 'self'",
        "base-uri 'none'",
        frameAncestorsDirective(ancestors),
      ].join("; "),
    );
  };
}

/** Whether the request came over TLS (directly, or through a trusted proxy that says so). */
export function isSecureRequest(c: Context<HttpEnv>, trustedProxies: number): boolean {
  if (new URL(c.req.url).protocol === "https:") return true;
  return forwardedProto(c.req.header("x-forwarded-proto"), trustedProxies) === "https";
}

export const csrfTokenOf = (session: Session): string =>
  createHmac("sha256", session.credential.value).update("hookledger console form").digest("base64url");

const sameString = (a: string, b: string) => {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
};

/** Browsers say where a request came from; anything but this origin (or an old browser saying nothing) is refused. */
export const crossSite = (c: Context<HttpEnv>): boolean => {
  const site = c.req.header("sec-fetch-site");
  return site !== undefined && site !== "same-origin" && site !== "none";
};

export function formTokenValid(c: Context<HttpEnv>, session: Session, given: unknown): boolean {
  return !crossSite(c) && typeof given === "string" && sameString(given, csrfTokenOf(session));
}

const SIGN_IN_COOKIE = "hl_console_form";

/** The sign-in form's token: a random value in a cookie and in the form. */
export function issueSignInToken(c: Context<HttpEnv>, secure: boolean): string {
  const token = randomBytes(24).toString("base64url");
  setCookie(c, SIGN_IN_COOKIE, token, { path: "/console", httpOnly: true, sameSite: "Strict", secure, maxAge: 3600 });
  return token;
}

export function signInTokenValid(c: Context<HttpEnv>, given: unknown): boolean {
  const expected = getCookie(c, SIGN_IN_COOKIE);
  return !crossSite(c) && typeof given === "string" && expected !== undefined && sameString(given, expected);
}
