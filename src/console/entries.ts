/** Ledger entry types of the web console and the portal: sessions, portal links, embedding origins. */
import * as v from "valibot";

const uuid = v.pipe(v.string(), v.uuid());

export const consoleEntries = {
  /** A token exchanged at /console/sign-in, or a portal link redeemed, opened a browser session. */
  "console.session_started": v.strictObject({
    session_id: uuid,
    surface: v.picklist(["console", "portal"]),
    /** The token whose authority the session carries (for the portal: the organization token that minted the link). */
    token_id: uuid,
    /** Portal sessions are limited to this application. */
    app_id: v.nullable(uuid),
    portal_link_id: v.nullable(uuid),
    expires_at: v.string(),
    /** A portal session opened by a read-only link (absent in entries recorded before read-only links). */
    read_only: v.optional(v.boolean()),
  }),
  "console.session_ended": v.strictObject({ session_id: uuid, reason: v.picklist(["signed_out", "expired"]) }),
  "portal.link_created": v.strictObject({ link_id: uuid, app_id: uuid, token_id: uuid, expires_at: v.string(), read_only: v.optional(v.boolean()) }),
  "portal.link_redeemed": v.strictObject({ link_id: uuid, session_id: uuid }),
  "portal.origins_set": v.strictObject({ allowed_origins: v.array(v.string()) }),
};

type ConsoleEntrySchemas = typeof consoleEntries;

declare module "../ledger/catalogue.ts" {
  interface EntrySchemas extends ConsoleEntrySchemas {}
}
