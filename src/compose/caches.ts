/**
 * The API process's caches of rows other processes may change (db/notifiedCache.ts): authenticated tokens and
 * ingress routes. Started with the API (each opens its LISTEN connection) and stopped with it.
 */
import type { Sql } from "../db/connect.ts";
import { IngressRouteCache } from "../inbound/routeCache.ts";
import type { Logger } from "../log.ts";
import { TokenCache } from "../tenancy/tokenCache.ts";

export interface ApiCaches {
  tokens: TokenCache;
  ingressRoutes: IngressRouteCache;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createApiCaches(sql: Sql, listen: { url: string; log: Logger }): ApiCaches {
  const tokens = new TokenCache(sql, listen);
  const ingressRoutes = new IngressRouteCache(listen);
  return {
    tokens,
    ingressRoutes,
    async start() {
      await Promise.all([tokens.start(), ingressRoutes.start()]);
    },
    async stop() {
      await Promise.all([tokens.stop(), ingressRoutes.stop()]);
    },
  };
}
