/**
 * Security headers on every response. The API serves JSON only, so the content security policy forbids
 * everything; pages that need more (the API reference) override it for their own route.
 */
import type { MiddlewareHandler } from "hono";
import type { HttpEnv } from "./env.ts";

export function securityHeaders(options: { hsts: boolean }): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    await next();
    const headers = c.res.headers;
    headers.set("X-Content-Type-Options", "nosniff");
    headers.set("Referrer-Policy", "no-referrer");
    headers.set("Cross-Origin-Resource-Policy", "same-origin");
    if (!headers.has("Content-Security-Policy")) {
      headers.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
    }
    // X-Frame-Options cannot name origins: a page whose CSP lets chosen origins frame it (the portal) goes without.
    if (!/frame-ancestors (?!'none')/.test(headers.get("Content-Security-Policy") ?? "")) headers.set("X-Frame-Options", "DENY");
    if (options.hsts) headers.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    headers.set("Cache-Control", headers.get("Cache-Control") ?? "no-store");
    headers.delete("X-Powered-By");
  };
}
