/**
 * `/openapi.json` and `/docs`. The reference page runs Scalar's renderer from our own origin: the standalone
 * browser bundle of the pinned `@scalar/api-reference` package, read once at start-up and served under a
 * content-hashed name. So the page works on a box without internet, a CDN cannot swap the code, and its CSP can
 * allow same-origin sources only (no `https:` source a compromised page could send data to).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Hono } from "hono";
import type { HttpEnv } from "../env.ts";
import { openApiDocument } from "./document.ts";
import type { Operation, WebhookDoc } from "./operation.ts";

interface Asset {
  readonly path: string;
  readonly body: Uint8Array<ArrayBuffer>;
  /** Subresource Integrity value for the script tag. */
  readonly integrity: string;
}

let renderer: Asset | undefined;

/** Scalar's standalone bundle, found through the package's entry point (its `exports` do not list the file). */
function scalarRenderer(): Asset {
  if (renderer) return renderer;
  const entry = createRequire(import.meta.url).resolve("@scalar/api-reference");
  const body = new Uint8Array(readFileSync(path.join(path.dirname(entry), "browser", "standalone.js")));
  const digest = createHash("sha384").update(body).digest();
  renderer = { path: `/docs/assets/api-reference.${digest.toString("hex").slice(0, 16)}.js`, body, integrity: `sha384-${digest.toString("base64")}` };
  return renderer;
}

// Scalar's defaults would load fonts from its own servers and send telemetry; the CSP would block both anyway.
const scalarConfiguration = JSON.stringify({ withDefaultFonts: false, telemetry: false, agent: { disabled: true } });

const page = (asset: Asset) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hookledger API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><script id="api-reference" type="application/json" data-url="/openapi.json" data-configuration='${scalarConfiguration}'></script>
<script src="${asset.path}" integrity="${asset.integrity}"></script></body></html>`;

/**
 * Same-origin only. Styles also allow 'unsafe-inline': Scalar's Vue templates carry style attributes and it injects
 * a stylesheet without a nonce (checked in Chromium: with a nonce-only style-src, parts of the page lose their
 * styling). An inline style can reach no other origin, since images, fonts and connections are 'self' too.
 */
const pagePolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export function openApiRoutes(operations: readonly Operation[], webhooks: readonly WebhookDoc[] = []): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  const document = JSON.stringify(openApiDocument(operations, webhooks));
  const asset = scalarRenderer();
  app.get("/openapi.json", (c) => c.body(document, 200, { "content-type": "application/json" }));
  const html = page(asset);
  app.get("/docs", (c) => {
    c.header("Content-Security-Policy", pagePolicy);
    return c.html(html);
  });
  // A static file, not an API operation: served by middleware, so it stays out of the route list the OpenAPI
  // document must match. The name carries the content hash, so browsers may keep it for good.
  app.use("/docs/assets/:file", async (c, next) => {
    if (c.req.path !== asset.path || (c.req.method !== "GET" && c.req.method !== "HEAD")) return next();
    return c.body(asset.body, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=31536000, immutable" });
  });
  return app;
}
