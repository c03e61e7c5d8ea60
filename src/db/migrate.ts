/**
 * Applies the numbered plain-SQL migrations in `sql/`, each once, each in its own transaction, as the owner role.
 *
 * Why an advisory lock on a reserved connection: API and worker processes may start at the same moment against
 * one database; the lock makes the second wait and then find nothing to do, instead of racing `CREATE TABLE`.
 * Why checksums: a migration edited after it ran on some database would leave that database different from a
 * fresh one with no sign of it; refusing to start is the only safe answer.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import type { Sql } from "./connect.ts";

/** Arbitrary, fixed key shared by every hookledger process ("hl" + "migr" as bytes). */
const MIGRATION_LOCK_KEY = 0x686c_6d69;
const FILE_PATTERN = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL("../../sql/", import.meta.url));

export class MigrationError extends Error {
  override readonly name = "MigrationError";
}

export interface MigrationFile {
  version: number;
  name: string;
  file: string;
  text: string;
  checksum: string;
}

/** The migration files' versions and names, in order, checked for naming and duplicate versions (no reads). */
export async function listMigrations(directory: string): Promise<Omit<MigrationFile, "text" | "checksum">[]> {
  const names = (await readdir(directory)).filter((name) => name.endsWith(".sql")).sort();
  const seen = new Map<number, string>();
  const files: Omit<MigrationFile, "text" | "checksum">[] = [];
  for (const name of names) {
    const match = FILE_PATTERN.exec(name);
    if (!match) throw new MigrationError(`${name}: migration files must be named NNN_lower_snake_name.sql`);
    const version = Number(match[1]);
    const clash = seen.get(version);
    if (clash) throw new MigrationError(`${name} and ${clash} share version ${version}`);
    seen.set(version, name);
    files.push({ version, name: match[2] ?? name, file: name });
  }
  return files.sort((a, b) => a.version - b.version);
}

export async function readMigrationFiles(directory: string): Promise<MigrationFile[]> {
  const files: MigrationFile[] = [];
  for (const listed of await listMigrations(directory)) {
    const text = await readFile(path.join(directory, listed.file), "utf8");
    files.push({ ...listed, text, checksum: createHash("sha256").update(text).digest("hex") });
  }
  return files;
}

export interface MigrationReport {
  applied: string[];
  alreadyApplied: number;
}

/**
 * Runs pending migrations. `beforeFiles` runs under the same lock first (graphile-worker installs its schema
 * there, because our migrations reference it).
 */
export async function migrate(
  owner: Sql,
  options: { directory?: string; beforeFiles?: () => Promise<void>; afterFiles?: (sql: Sql) => Promise<void> } = {},
): Promise<MigrationReport> {
  const files = await readMigrationFiles(options.directory ?? DEFAULT_MIGRATIONS_DIR);
  const lock = await owner.reserve();
  try {
    await lock`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    await owner`create schema if not exists hookledger_private`;
    await owner`
      create table if not exists hookledger_private.migrations (
        version integer primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`;
    await options.beforeFiles?.();

    const rows = await owner<{ version: number; name: string; checksum: string }[]>`
      select version, name, checksum from hookledger_private.migrations order by version`;
    const known = new Map(files.map((file) => [file.version, file]));
    for (const row of rows) {
      const file = known.get(row.version);
      if (!file) {
        throw new MigrationError(
          `the database has migration ${row.version} (${row.name}) that this build of hookledger does not contain; run a newer build`,
        );
      }
      if (file.checksum !== row.checksum) {
        throw new MigrationError(
          `sql/${file.file} was changed after it was applied to this database; ` +
            `restore the original file and put the change in a new migration`,
        );
      }
    }
    const done = new Set(rows.map((row) => row.version));
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file.version)) continue;
      try {
        await owner.begin(async (tx) => {
          await tx.unsafe(file.text);
          await tx`insert into hookledger_private.migrations (version, name, checksum)
                   values (${file.version}, ${file.name}, ${file.checksum})`;
        });
      } catch (error) {
        const reason = error instanceof Error ? error.message : "unknown error";
        throw new MigrationError(`sql/${file.file} failed and was rolled back: ${reason}`);
      }
      applied.push(file.file);
    }
    await options.afterFiles?.(owner);
    return { applied, alreadyApplied: rows.length };
  } finally {
    await lock`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.catch(() => undefined);
    lock.release();
  }
}
