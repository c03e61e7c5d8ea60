/**
 * Keeps "last used" per token without a write per request: uses are noted in memory and flushed every few
 * seconds, one statement per organization. Losing a few seconds of last-use times in a crash is harmless.
 */
import type { Sql } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import type { Logger } from "../log.ts";
import { recordTokenUsage } from "./tokenStore.ts";
import { groupBy } from "../collections/groupBy.ts";

export class TokenUsageTracker {
  private pending = new Map<string, { orgId: string; tokenId: string; at: Date }>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
    private readonly intervalMs = 5000,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref?.();
  }

  note(orgId: string, tokenId: string, at: Date): void {
    this.pending.set(tokenId, { orgId, tokenId, at });
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const byOrg = groupBy(batch.values(), (use) => use.orgId);
    for (const [orgId, uses] of byOrg) {
      await withTenant(this.sql, orgId, (tx) => recordTokenUsage(tx, uses)).catch((error: unknown) =>
        this.log.warn("could not record token usage", { error }),
      );
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
