/**
 * bunfig.toml makes Bun read configuration the way Node and Deno do: from the process environment only.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const bun = path.resolve("node_modules/.bin/bun");

describe("bunfig.toml", () => {
  it("keeps Bun from loading a .env file in the working folder", () => {
    const folder = mkdtempSync(path.join(tmpdir(), "hookledger-bunfig-"));
    try {
      copyFileSync("bunfig.toml", path.join(folder, "bunfig.toml"));
      writeFileSync(path.join(folder, ".env"), "HOOKLEDGER_BUNFIG_PROBE=from-dotenv\n");
      const { HOOKLEDGER_BUNFIG_PROBE: _unset, ...env } = process.env;
      const result = spawnSync(bun, ["-e", 'console.log(process.env.HOOKLEDGER_BUNFIG_PROBE ?? "unset")'], { cwd: folder, env, encoding: "utf8", timeout: 30_000 });
      expect(result.status).toBe(0);
      expect(result.stdout.trim()).toBe("unset");
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
