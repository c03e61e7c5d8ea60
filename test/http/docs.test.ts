/**
 * `GET /docs`: the API reference page loads its renderer from our own origin (a pinned copy from node_modules),
 * so it works offline and its CSP names no outside source.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let app: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

const scripts = (html: string) => [...html.matchAll(/<script\b([^>]*)>/g)].map((match) => match[1] ?? "");
const attribute = (attributes: string, name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(attributes)?.[1];

describe("API reference page", () => {
  it("references only same-origin scripts, and runs no inline script", async () => {
    const response = await app.fetch("/docs");
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('data-url="/openapi.json"');
    const tags = scripts(html);
    const sources = tags.map((tag) => attribute(tag, "src")).filter((src) => src !== undefined);
    expect(sources).toHaveLength(1);
    for (const src of sources) expect(src).toMatch(/^\/(?!\/)/);
    // A script element without src must be data, not code.
    for (const tag of tags.filter((tag) => attribute(tag, "src") === undefined)) expect(attribute(tag, "type")).toBe("application/json");
  });

  it("has a CSP of same-origin sources only: no https:, no wildcard, scripts from 'self' alone", async () => {
    const policy = (await app.fetch("/docs")).headers.get("content-security-policy") ?? "";
    const directives = new Map(policy.split(";").map((part) => part.trim().split(/\s+/)).map(([name = "", ...sources]) => [name, sources]));
    expect(directives.get("default-src")).toEqual(["'none'"]);
    expect(directives.get("script-src")).toEqual(["'self'"]);
    expect(directives.get("connect-src")).toEqual(["'self'"]);
    expect(directives.get("frame-ancestors")).toEqual(["'none'"]);
    expect(policy).not.toMatch(/https?:/);
    expect(policy).not.toContain("*");
  });

  it("serves the renderer itself: JavaScript, cached for good, matching the page's integrity hash", async () => {
    const html = await (await app.fetch("/docs")).text();
    const tag = scripts(html).find((candidate) => attribute(candidate, "src") !== undefined) ?? "";
    const response = await app.fetch(attribute(tag, "src") ?? "");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(response.headers.get("cache-control")).toContain("immutable");
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.length).toBeGreaterThan(100_000);
    expect(attribute(tag, "integrity")).toBe(`sha384-${createHash("sha384").update(body).digest("base64")}`);
    expect((await app.fetch("/docs/assets/api-reference.0000000000000000.js")).status).toBe(404);
  });
});
