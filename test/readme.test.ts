/**
 * The README's configuration table is the operator's reference: it must list every setting the config schema
 * reads, and nothing the schema does not read. Likewise its list of projections names exactly those
 * `rebuild-projection` takes.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configSchema } from "../src/config.ts";
import { projections } from "../src/compose/projections.ts";

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

describe("README projection list", () => {
  it("names every projection rebuild-projection takes, in order, and nothing else", () => {
    const start = readme.indexOf("Projections, by the name `rebuild-projection` takes:");
    expect(start).toBeGreaterThan(0);
    const list = readme.slice(readme.indexOf(":", start) + 1, readme.indexOf(". ", start));
    expect([...list.matchAll(/`([a-z_]+)`/g)].map((match) => match[1])).toEqual(projections.map((projection) => projection.name));
  });
});
