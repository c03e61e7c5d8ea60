/**
 * A fresh database per test file, cloned from the migrated template, with pools for the owner and the service
 * role. `drop()` removes it.
 */
import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { connect, serviceUrlFor, withDatabase, type Sql } from "../../src/db/connect.ts";

export const TEMPLATE_DATABASE = "hookledger_test_template";

export interface TestDatabase {
  name: string;
  ownerUrl: string;
  serviceUrl: string;
  /** Owner role pool (superuser on the embedded server): for assertions that must see past RLS. */
  owner: Sql;
  /** Service role pool: what the app uses; RLS applies. */
  service: Sql;
  drop(): Promise<void>;
}

export function postgresUrl(): string {
  return inject("postgresUrl");
}

/** Creates an empty database (no migrations) — for migration tests. */
export async function createEmptyDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  return createDatabase(undefined);
}

async function createDatabase(template: string | undefined): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const base = postgresUrl();
  const name = `hl_test_${randomBytes(6).toString("hex")}`;
  const admin = connect(base, { max: 1, applicationName: "hookledger-test" });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.unsafe(`create database ${name}${template ? ` template ${template}` : ""}`);
        break;
      } catch (error) {
        // Two files cloning the template at the same instant can collide; a short retry settles it.
        if (attempt >= 20 || !String((error as Error).message).includes("being accessed by other users")) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(base, name),
    async drop() {
      const cleanup = connect(base, { max: 1, applicationName: "hookledger-test" });
      try {
        await cleanup.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const db = await createDatabase(TEMPLATE_DATABASE);
  const serviceUrl = serviceUrlFor(db.url);
  const owner = connect(db.url, { max: 4, applicationName: "hookledger-test-owner" });
  const service = connect(serviceUrl, { max: 8, applicationName: "hookledger-test-service" });
  return {
    name: db.name,
    ownerUrl: db.url,
    serviceUrl,
    owner,
    service,
    async drop() {
      await service.end({ timeout: 5 });
      await owner.end({ timeout: 5 });
      await db.drop();
    },
  };
}
