import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connect, type Sql } from "../../src/db/connect.ts";
import { migrate, MigrationError } from "../../src/db/migrate.ts";
import { createEmptyDatabase } from "../support/database.ts";

let db: Awaited<ReturnType<typeof createEmptyDatabase>>;
let owner: Sql;
let dir: string;
/** Every migrations folder a test made; removed after it, so runs leave nothing in the system temp folder. */
let folders: string[] = [];

const migrationsFolder = async () => {
  const folder = await mkdtemp(path.join(tmpdir(), "hl-migrations-"));
  folders.push(folder);
  return folder;
};

beforeEach(async () => {
  db = await createEmptyDatabase();
  owner = connect(db.url, { max: 4, applicationName: "migrate-test" });
  dir = await migrationsFolder();
});

afterEach(async () => {
  await owner.end();
  await db.drop();
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
  folders = [];
});

const applied = async () =>
  (await owner<{ version: number }[]>`select version from hookledger_private.migrations order by applied_at, version`).map((r) => r.version);

describe("migrations", () => {
  it("applies files in numeric order, each once, recording a checksum", async () => {
    await writeFile(path.join(dir, "010_third.sql"), "insert into steps values (3);");
    await writeFile(path.join(dir, "001_first.sql"), "create table steps (n int);");
    await writeFile(path.join(dir, "002_second.sql"), "insert into steps values (2);");
    const report = await migrate(owner, { directory: dir });
    expect(report.applied).toEqual(["001_first.sql", "002_second.sql", "010_third.sql"]);
    expect((await owner<{ n: number }[]>`select n from steps order by n`).map((r) => r.n)).toEqual([2, 3]);
    const again = await migrate(owner, { directory: dir });
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toBe(3);
    const [row] = await owner<{ checksum: string }[]>`select checksum from hookledger_private.migrations where version = 1`;
    expect(row?.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it("refuses to start when an applied file was edited", async () => {
    await writeFile(path.join(dir, "001_first.sql"), "create table steps (n int);");
    await migrate(owner, { directory: dir });
    await writeFile(path.join(dir, "001_first.sql"), "create table steps (n bigint);");
    await expect(migrate(owner, { directory: dir })).rejects.toThrow(
      new MigrationError("sql/001_first.sql was changed after it was applied to this database; restore the original file and put the change in a new migration"),
    );
  });

  it("rolls a failing migration back completely and names it", async () => {
    await writeFile(path.join(dir, "001_first.sql"), "create table steps (n int);");
    await writeFile(path.join(dir, "002_broken.sql"), "create table half (n int); select no_such_function();");
    await expect(migrate(owner, { directory: dir })).rejects.toThrow(/sql\/002_broken.sql failed and was rolled back/);
    expect(await applied()).toEqual([1]);
    const [row] = await owner<{ exists: boolean }[]>`select to_regclass('half') is not null as exists`;
    expect(row?.exists).toBe(false);
  });

  it("refuses badly named files and duplicate versions", async () => {
    await writeFile(path.join(dir, "1-first.sql"), "select 1;");
    await expect(migrate(owner, { directory: dir })).rejects.toThrow(/must be named NNN_lower_snake_name.sql/);
    const other = await migrationsFolder();
    await writeFile(path.join(other, "001_a.sql"), "select 1;");
    await writeFile(path.join(other, "001_b.sql"), "select 1;");
    await expect(migrate(owner, { directory: other })).rejects.toThrow(/share version 1/);
  });

  it("refuses a database that is ahead of this build", async () => {
    await writeFile(path.join(dir, "001_first.sql"), "select 1;");
    await writeFile(path.join(dir, "002_second.sql"), "select 2;");
    await migrate(owner, { directory: dir });
    const older = await migrationsFolder();
    await writeFile(path.join(older, "001_first.sql"), "select 1;");
    await expect(migrate(owner, { directory: older })).rejects.toThrow(/has migration 2 \(second\) that this build of hookledger does not contain/);
  });

  it("lets concurrent processes start together: each migration runs exactly once", async () => {
    // Not idempotent on purpose: a second run of 001 would fail on the existing table.
    await writeFile(path.join(dir, "001_first.sql"), "create table steps (n int); select pg_sleep(0.2);");
    await writeFile(path.join(dir, "002_second.sql"), "insert into steps values (2);");
    const others = [0, 1, 2].map(() => connect(db.url, { max: 2, applicationName: "migrate-race" }));
    try {
      const reports = await Promise.all(others.map((sql) => migrate(sql, { directory: dir })));
      expect(reports.map((r) => r.applied.length).sort()).toEqual([0, 0, 2]);
      expect((await owner<{ n: number }[]>`select n from steps`).length).toBe(1);
    } finally {
      await Promise.all(others.map((sql) => sql.end()));
    }
  });
});
