/**
 * Ingress routes with their decrypted secrets, cached per API process, so receiving a webhook reads nothing before
 * its record is written. Measured (bench scenario 9, interleaved quick runs): 0.12–0.14× with a load per batch
 * of requests, 0.18–0.22× cached; 0.69–0.85 → 0.44–0.45 core-ms per receipt.
 *
 * A change to a route or its secrets takes effect at once on every process: triggers announce it (sql/074) and
 * each process drops that route (db/notifiedCache.ts, which also says what happens while the listener is down);
 * this process drops it itself as soon as it has changed it (routes/ingressRoutes.ts). Routes not found or
 * disabled are never cached: a route created or enabled a moment ago is found at once.
 *
 * Secrets are chosen per request (secretsAt), so a secret's window ending while it is cached ends its use on time;
 * a copy is never used for a request dated before it was loaded, so it needs no secret ended before then.
 */
import { NotifiedCache } from "../db/notifiedCache.ts";
import type { Logger } from "../log.ts";
import type { IngressRouteRow } from "./routeStore.ts";
import { DEFAULT_TOLERANCE_SECONDS, type VerifierSecret } from "./verifiers/types.ts";

export const INGRESS_ROUTE_CHANGED_CHANNEL = "hookledger_ingress_route_changed";

/** The longest tolerance a route may have (fields.ts: a day): secrets are read for it, each route keeps its own. */
export const MAX_TOLERANCE_MS = 86_400_000;

export interface LoadedRoute {
  route: IngressRouteRow;
  /** Decrypted, newest first: every secret not ended the route's tolerance before `loadedAt`. */
  secrets: VerifierSecret[];
  loadedAt: Date;
}

/** How far back a request to this route may be signed. */
export const toleranceMsOf = (route: IngressRouteRow): number => (route.auth.type === "hmac" ? route.auth.tolerance_seconds : DEFAULT_TOLERANCE_SECONDS) * 1000;

/** The secrets that may verify a request received at `now`: those not ended before now minus the route's tolerance (a request may be signed that long ago). */
export function secretsAt(loaded: LoadedRoute, now: Date): VerifierSecret[] {
  const endedAfter = now.getTime() - toleranceMsOf(loaded.route);
  return loaded.secrets.filter((secret) => secret.validUntil === undefined || secret.validUntil.getTime() > endedAfter);
}

const keyOf = (orgId: string, routeId: string) => `${orgId}/${routeId}`;

export class IngressRouteCache {
  private readonly cache: NotifiedCache<LoadedRoute>;

  constructor(listen: { url: string; log: Logger }) {
    this.cache = new NotifiedCache({ ...listen, channel: INGRESS_ROUTE_CHANGED_CHANNEL, ttlMs: 60_000, maxEntries: 10_000 });
  }

  start(): Promise<void> {
    return this.cache.start();
  }

  stop(): Promise<void> {
    return this.cache.stop();
  }

  /**
   * The live route, from the cache or read with `load`. A copy loaded after `now` (a clock set back) is read
   * again: it may lack secrets that ended before it was loaded and still verify at `now`.
   */
  find(orgId: string, routeId: string, now: Date, load: () => Promise<LoadedRoute | undefined>): Promise<LoadedRoute | undefined> {
    return this.cache.get(keyOf(orgId, routeId), load, (loaded) => loaded.loadedAt.getTime() <= now.getTime());
  }

  /** Drops a route this process has just changed (its own notification may come after the next request). */
  forget(orgId: string, routeId: string): void {
    this.cache.forget(keyOf(orgId, routeId));
  }
}
