/**
 * Retention, run daily by the `apply_retention` cron task.
 *
 * Two layers, because tenants may keep history for different lengths of time and ledger rows are never updated
 * or deleted one by one:
 * 1. Per tenant, projection rows (attempts, finished deliveries, events) older than the tenant's retention are
 *    deleted by the ledger's history pruners (each capability hands over its own), so the API and audit views stop
 *    showing them on time.
 * 2. A monthly ledger partition is detached and dropped once it is older than the LONGEST retention of any
 *    tenant: only then is every tenant in it past retention. Until then a tenant with a shorter retention still
 *    has old entries in the ledger; a projection rebuild would bring their rows back, and the next run removes
 *    them again.
 * Each run appends `retention.applied` (instance level) with what it removed.
 */
import type { AppContext } from "../context.ts";
import { withInstanceAdmin } from "../db/localRole.ts";
import type { OwnerClient } from "../db/ownerClient.ts";
import { SYSTEM_ORG_ID, withTenant } from "../db/tenant.ts";
import { ANY_VERSION } from "./append.ts";
import type { PrunedRows } from "./historyPruner.ts";

const DAY_MS = 86_400_000;
const PARTITION_NAME = /^ledger_y(\d{4})m(\d{2})$/;

export interface RetentionReport {
  organizations: number;
  attemptsDeleted: number;
  deliveriesDeleted: number;
  eventsDeleted: number;
  partitionsDropped: string[];
  partitionCutoff: Date;
}

/** Partitions whose whole month ends on or before the cutoff. */
async function expiredPartitions(owner: OwnerClient, cutoff: Date): Promise<string[]> {
  const { rows } = await owner.query<{ name: string }>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'hookledger.ledger'::regclass order by 1`,
  );
  return rows
    .map((row) => row.name)
    .filter((name) => {
      const match = PARTITION_NAME.exec(name);
      if (!match) return false;
      const monthEnd = Date.UTC(Number(match[1]), Number(match[2]), 1); // month index is 0-based: this is the next month's first day
      return monthEnd <= cutoff.getTime();
    });
}

export async function applyRetention(ctx: AppContext, owner: OwnerClient): Promise<RetentionReport> {
  const now = ctx.now();
  const defaultDays = ctx.config.HOOKLEDGER_RETENTION_DAYS;
  const organizations = await withInstanceAdmin(ctx.sql, (tx) => tx<{ org_id: string; retention_days: number | null }[]>`
    select org_id, retention_days from hookledger.organizations`);
  const report: RetentionReport = { organizations: organizations.length, attemptsDeleted: 0, deliveriesDeleted: 0, eventsDeleted: 0, partitionsDropped: [], partitionCutoff: now };
  let longestDays = defaultDays;
  for (const org of organizations) {
    const days = org.retention_days ?? defaultDays;
    longestDays = Math.max(longestDays, days);
    const cutoff = new Date(now.getTime() - days * DAY_MS);
    const pruned = await withTenant(ctx.sql, org.org_id, async (tx) => {
      const counts: PrunedRows[] = [];
      for (const prune of ctx.ledger.historyPruners) counts.push(await prune(tx, cutoff));
      return counts;
    });
    for (const counts of pruned) {
      report.attemptsDeleted += counts.attempts ?? 0;
      report.deliveriesDeleted += counts.deliveries ?? 0;
      report.eventsDeleted += counts.events ?? 0;
    }
  }
  report.partitionCutoff = new Date(now.getTime() - longestDays * DAY_MS);
  for (const partition of await expiredPartitions(owner, report.partitionCutoff)) {
    // Detach first: dropping a detached table takes no lock on the parent that running appends would wait for.
    await owner.query(`alter table hookledger.ledger detach partition hookledger.${partition}`);
    await owner.query(`drop table hookledger.${partition}`);
    report.partitionsDropped.push(partition);
  }
  await withTenant(ctx.sql, SYSTEM_ORG_ID, (tx) =>
    ctx.ledger.record(tx, "retention:runs", ANY_VERSION, [
      {
        type: "retention.applied",
        data: {
          organizations: report.organizations,
          attempts_deleted: report.attemptsDeleted,
          deliveries_deleted: report.deliveriesDeleted,
          events_deleted: report.eventsDeleted,
          partitions_dropped: report.partitionsDropped,
          partition_cutoff: report.partitionCutoff.toISOString(),
        },
        meta: { actor: { kind: "worker" } },
      },
    ]),
  );
  return report;
}
