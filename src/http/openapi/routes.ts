/**
 * `/openapi.json` and `/docs`. The reference page loads Scalar's renderer from its CDN in the reader's browser
 * (hookledger itself makes no request); its CSP allows exactly that script and nothing else.
 */
import { Hono } from "hono";
import type { HttpEnv } from "../env.ts";
import { openApiDocument } from "./document.ts";
import type { Operation } from "./operation.ts";

const SCALAR = "https://cdn.jsdelivr.net/npm/@scalar/api-reference@1";

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hookledger API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><script id="api-reference" data-url="/openapi.json"></script><script src="${SCALAR}"></script></body></html>`;

export function openApiRoutes(operations: readonly Operation[]): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  const document = JSON.stringify(openApiDocument(operations));
  app.get("/openapi.json", (c) => c.body(document, 200, { "content-type": "application/json" }));
  app.get("/docs", (c) => {
    c.header("Content-Security-Policy", `default-src 'none'; script-src https://cdn.jsdelivr.net; style-src 'unsafe-inline' https://cdn.jsdelivr.net; font-src https://cdn.jsdelivr.net data:; img-src data: https:; connect-src 'self'; frame-ancestors 'none'`);
    return c.html(page);
  });
  return app;
}
