/**
 * Lower folders never import higher ones. The libraries (db, ledger, http, crypto, egress) know no capability:
 * what a capability brings (routes, OpenAPI operations, entry types, projections, pruners, preparation steps)
 * reaches them as parameters from src/compose/. This test fails when an import crosses a layer the wrong way.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const sourceRoot = fileURLToPath(new URL("../../src", import.meta.url));

const CAPABILITIES = ["tenancy", "outbound", "inbound", "console"];
/** The composition layer and the entry points: nothing below them may import them. */
const TOP = ["compose", "boot.ts", "main.ts"];

/** Folder → top-level folders (or root files) it must not import. */
const forbidden: Record<string, readonly string[]> = {
  db: [...CAPABILITIES, ...TOP, "ledger", "http", "worker"],
  crypto: [...CAPABILITIES, ...TOP],
  egress: [...CAPABILITIES, ...TOP],
  ledger: [...CAPABILITIES, ...TOP, "http", "worker"],
  http: [...CAPABILITIES, ...TOP, "worker"],
  tenancy: TOP,
  outbound: TOP,
  inbound: TOP,
};

function typeScriptFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) return typeScriptFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

/** The first path segment under src/ of every relative module a file imports (static, dynamic or `declare module`). */
function importedTopLevels(file: string): { specifier: string; topLevel: string }[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:from|import\(|declare module)\s*["'](\.{1,2}\/[^"']+)["']/g)].map((match) => match[1] ?? "");
  return specifiers.map((specifier) => {
    const target = path.relative(sourceRoot, path.resolve(path.dirname(file), specifier)).split(path.sep);
    return { specifier, topLevel: target[0] ?? "" };
  });
}

describe("layers", () => {
  it("no library imports a capability or the composition layer, and db imports no ledger", () => {
    const violations: string[] = [];
    for (const [folder, denied] of Object.entries(forbidden)) {
      for (const file of typeScriptFiles(path.join(sourceRoot, folder))) {
        for (const { specifier, topLevel } of importedTopLevels(file)) {
          if (denied.includes(topLevel)) violations.push(`src/${path.relative(sourceRoot, file)} imports ${specifier}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});
