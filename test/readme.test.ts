/**
 * The README's configuration table is the operator's reference: it must list every setting the config schema
 * reads, and nothing the schema does not read.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configSchema } from "../src/config.ts";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const table = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("### Running with your own Postgres"));

/** Names in the table's first column; `A_B_RPS` / `_BURST` names two settings, A_B_RPS and A_B_BURST. */
function documentedSettings(): Set<string> {
  const names = new Set<string>();
  for (const row of table.split("\n").filter((line) => line.startsWith("| `"))) {
    const first = row.split("|")[1] ?? "";
    const [name, ...suffixes] = [...first.matchAll(/`([A-Z_]+)`/g)].map((match) => match[1] ?? "");
    if (!name) continue;
    names.add(name);
    for (const suffix of suffixes) names.add(name.slice(0, name.lastIndexOf("_")) + suffix);
  }
  return names;
}

describe("README configuration table", () => {
  it("documents every setting, and only settings that exist", () => {
    const documented = documentedSettings();
    const read = Object.keys(configSchema.entries);
    expect(documented.size).toBeGreaterThan(50);
    expect(read.filter((name) => !documented.has(name))).toEqual([]);
    expect([...documented].filter((name) => !read.includes(name))).toEqual([]);
  });
});
