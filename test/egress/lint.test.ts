/**
 * Every outbound request must go through src/egress/, or the SSRF policy is a suggestion. This test fails when a
 * file elsewhere in src/ reaches for a network client directly.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const sourceRoot = fileURLToPath(new URL("../../src", import.meta.url));

/**
 * Files allowed to use the network modules anyway, each for a reason that is not "sending":
 * the HTTP server adapters accept inbound connections (node:http / node:net to listen, Bun.serve, Deno.serve).
 * Add to this list only for code that serves, never for code that sends.
 */
const servingFiles = new Set(["http/serve/node.ts", "http/serve/bun.ts", "http/serve/deno.ts", "http/serve/tls.ts"]);

const forbidden: readonly { pattern: RegExp; what: string }[] = [
  // A bare or global fetch; `app.fetch(request)` is an in-process call into a Hono app, not a network request.
  { pattern: /(?<![\w$.])fetch\s*\(|\b(?:globalThis|window|self)\.fetch\s*\(/, what: "fetch(" },
  { pattern: /["']node:https?["']/, what: "node:http / node:https" },
  { pattern: /["']node:net["']/, what: "node:net" },
  { pattern: /["']node:tls["']/, what: "node:tls" },
  { pattern: /["'](?:node:)?http2["']/, what: "http2" },
  { pattern: /from\s+["'](?:https?|net|tls|undici)["']/, what: "a bare network module import" },
  { pattern: /\bhttps?\.request\b/, what: "http.request / https.request" },
  { pattern: /\bhttps?\.get\(/, what: "http.get / https.get" },
];

function typeScriptFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) return typeScriptFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

describe("outbound HTTP only through src/egress", () => {
  it("no file outside src/egress/ opens outbound connections", () => {
    const violations: string[] = [];
    for (const file of typeScriptFiles(sourceRoot)) {
      const relative = path.relative(sourceRoot, file).split(path.sep).join("/");
      if (relative.startsWith("egress/") || servingFiles.has(relative)) continue;
      const lines = readFileSync(file, "utf8").split("\n");
      lines.forEach((line, index) => {
        for (const { pattern, what } of forbidden) {
          if (pattern.test(line)) violations.push(`src/${relative}:${index + 1} uses ${what}; send through src/egress/client.ts`);
        }
      });
    }
    expect(violations).toEqual([]);
  });

  it("the scan sees the source tree (guards against a wrong root passing vacuously)", () => {
    const files = typeScriptFiles(sourceRoot).map((file) => path.relative(sourceRoot, file).split(path.sep).join("/"));
    expect(files).toContain("egress/client.ts");
    expect(files.length).toBeGreaterThan(10);
  });
});
