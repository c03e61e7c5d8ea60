/**
 * `npm start` runs Bun with its allocator (mimalloc) keeping the memory it frees for reuse
 * (`MIMALLOC_PURGE_DELAY=-1`) instead of handing it back to the system after a short delay, which made the API fault in
 * ~2 fresh pages per event it accepted (see README, Configuration). An operator's own value is kept. The script is
 * run by the shell npm uses, with a stand-in `bun` that prints what it was given.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const start = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: { start: string } }).scripts.start;

function runStart(env: Record<string, string | undefined>): string {
  const folder = mkdtempSync(path.join(tmpdir(), "hookledger-start-"));
  try {
    const bun = path.join(folder, "bun");
    writeFileSync(bun, '#!/bin/sh\necho "MIMALLOC_PURGE_DELAY=${MIMALLOC_PURGE_DELAY-unset} $*"\n');
    chmodSync(bun, 0o755);
    const { MIMALLOC_PURGE_DELAY: _inherited, ...base } = process.env;
    const result = spawnSync("/bin/sh", ["-c", start], { env: { ...base, ...env, PATH: `${folder}:${process.env.PATH ?? ""}` }, encoding: "utf8", timeout: 10_000 });
    expect(result.status).toBe(0);
    return result.stdout.trim();
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

describe("npm start", () => {
  it("runs src/main.ts on Bun with the allocator keeping freed memory", () => {
    expect(runStart({})).toBe("MIMALLOC_PURGE_DELAY=-1 src/main.ts");
  });

  it("keeps the operator's own allocator setting", () => {
    expect(runStart({ MIMALLOC_PURGE_DELAY: "10" })).toBe("MIMALLOC_PURGE_DELAY=10 src/main.ts");
  });
});
