/**
 * The application an incoming event names by id or uid, resolved without a database read per event: a uid is
 * looked up in the organization's fan-out memory (fanoutCache.ts), which keeps the uids of its applications read
 * at its fan-out version. The batch that takes the event checks that the application still has the uid (ingest.ts,
 * decide), against that memory at the version `ingest_batch` confirms or against the transactional path's fresh
 * reads, so a uid moved meanwhile never sends an event to the application that had it.
 */
import type { AppContext } from "../context.ts";
import { withTenant } from "../db/tenant.ts";
import { applicationIdOfUid, isUuidShaped } from "../tenancy/applicationRefs.ts";
import { fanoutCacheOf } from "./fanoutCache.ts";

/** What an event's `app_id` field names: the id, and the uid it was given by (if it was). */
export type EventApplication = { appId: string; appUid?: string };

/**
 * The application `ref` (an id, or a uid as `appRefField` accepts it) names in the organization; undefined for a
 * uid no live application has. A uid the memory does not know is read fresh once (an application given it through
 * another process since the memory was read): found, the memory is out of date and forgotten.
 */
export async function eventApplicationOf(ctx: AppContext, orgId: string, ref: string): Promise<EventApplication | undefined> {
  if (isUuidShaped(ref)) return { appId: ref };
  const cache = fanoutCacheOf(ctx);
  const known = (await cache.of(orgId, [], [ref])).appIdsByUid.get(ref);
  if (known !== undefined) return { appId: known, appUid: ref };
  const fresh = await withTenant(ctx.sql, orgId, (tx) => applicationIdOfUid(tx, ref));
  if (fresh === undefined) return undefined;
  cache.forget(orgId);
  return { appId: fresh, appUid: ref };
}
