/**
 * Console projections: browser sessions, portal links and the portal's embedding origins. A portal session is
 * written by `console.session_started` like a console one; `portal.link_redeemed` only marks its link used.
 */
import type { Tx } from "../db/connect.ts";
import type { RecordedEntry } from "../ledger/catalogue.ts";
import { defineProjection } from "../ledger/projection.ts";

type Of<T extends RecordedEntry["type"]> = Extract<RecordedEntry, { type: T }>;

async function applyEach(tx: Tx, entries: RecordedEntry[], apply: (tx: Tx, entry: RecordedEntry) => Promise<unknown>): Promise<void> {
  for (const entry of entries) await apply(tx, entry);
}

export const consoleSessionsProjection = defineProjection({
  name: "console_sessions",
  handles: ["console.session_started", "console.session_ended"],
  tables: ["hookledger.console_sessions"],
  apply: (tx, entries) =>
    applyEach(tx, entries, (tx, entry) => {
      if (entry.type === "console.session_started") {
        const { data } = entry as Of<"console.session_started">;
        return tx`insert into hookledger.console_sessions (org_id, session_id, surface, token_id, app_id, portal_link_id, started_at, expires_at, read_only)
                  values (${entry.orgId}, ${data.session_id}, ${data.surface}, ${data.token_id}, ${data.app_id}, ${data.portal_link_id},
                          ${entry.recordedAt}, ${data.expires_at}::timestamptz, ${data.read_only ?? false})`;
      }
      const { data } = entry as Of<"console.session_ended">;
      return tx`update hookledger.console_sessions set ended_at = ${entry.recordedAt}, end_reason = ${data.reason}
                where org_id = ${entry.orgId} and session_id = ${data.session_id} and ended_at is null`;
    }),
  clear: async (tx) => {
    await tx`delete from hookledger.console_sessions where org_id = hookledger.current_org_id()`;
  },
});

export const portalLinksProjection = defineProjection({
  name: "portal_links",
  handles: ["portal.link_created", "portal.link_redeemed"],
  tables: ["hookledger.portal_links"],
  apply: (tx, entries) =>
    applyEach(tx, entries, (tx, entry) => {
      if (entry.type === "portal.link_created") {
        const { data } = entry as Of<"portal.link_created">;
        return tx`insert into hookledger.portal_links (org_id, link_id, app_id, token_id, created_at, expires_at, read_only)
                  values (${entry.orgId}, ${data.link_id}, ${data.app_id}, ${data.token_id}, ${entry.recordedAt}, ${data.expires_at}::timestamptz, ${data.read_only ?? false})`;
      }
      const { data } = entry as Of<"portal.link_redeemed">;
      return tx`update hookledger.portal_links set redeemed_at = ${entry.recordedAt}, session_id = ${data.session_id}
                where org_id = ${entry.orgId} and link_id = ${data.link_id}`;
    }),
  clear: async (tx) => {
    await tx`delete from hookledger.portal_links where org_id = hookledger.current_org_id()`;
  },
});

export const portalSettingsProjection = defineProjection({
  name: "portal_settings",
  handles: ["portal.origins_set"],
  tables: ["hookledger.portal_settings"],
  apply: (tx, entries) =>
    applyEach(tx, entries, (tx, entry) => {
      const { data } = entry as Of<"portal.origins_set">;
      return tx`insert into hookledger.portal_settings (org_id, allowed_origins, updated_at)
                values (${entry.orgId}, ${data.allowed_origins}::text[], ${entry.recordedAt})
                on conflict (org_id) do update set allowed_origins = excluded.allowed_origins, updated_at = excluded.updated_at`;
    }),
  clear: async (tx) => {
    await tx`delete from hookledger.portal_settings where org_id = hookledger.current_org_id()`;
  },
});

export const consoleProjections = [consoleSessionsProjection, portalLinksProjection, portalSettingsProjection];
