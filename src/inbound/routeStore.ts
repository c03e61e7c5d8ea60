/**
 * Reads of the ingress_routes projection (writes happen only in inbound/projections.ts).
 *
 * The public receive endpoint knows only a route id, not the tenant, so `findRouteTenant` runs as
 * `hookledger_authenticator`, which may read the org id, route id and status columns across tenants and nothing
 * else; everything further is read inside `withTenant`, under row-level security like any other request.
 */
import { withAuthenticator } from "../db/localRole.ts";
import type { Queryable, Sql } from "../db/connect.ts";
import type { IngressAuth } from "./entries.ts";

export interface IngressRouteRow {
  route_id: string;
  name: string;
  description: string | null;
  auth: IngressAuth;
  max_body_bytes: number;
  publish_app_id: string | null;
  publish_event_type: string | null;
  queue: string | null;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

const columns = `route_id, name, description, auth, max_body_bytes, publish_app_id, publish_event_type, queue, enabled,
  created_at, updated_at`;

export async function getRoute(tx: Queryable, routeId: string): Promise<IngressRouteRow | undefined> {
  const [row] = await tx<IngressRouteRow[]>`
    select ${tx.unsafe(columns)} from hookledger.ingress_routes
    where org_id = hookledger.current_org_id() and route_id = ${routeId} and deleted_at is null`;
  return row;
}

export async function listRoutes(
  tx: Queryable,
  options: { limit: number; after?: { createdAt: string; id: string }; queue?: string },
): Promise<IngressRouteRow[]> {
  return tx<IngressRouteRow[]>`
    select ${tx.unsafe(columns)} from hookledger.ingress_routes
    where org_id = hookledger.current_org_id() and deleted_at is null
      ${options.queue ? tx`and queue = ${options.queue}` : tx``}
      ${options.after ? tx`and (created_at, route_id) < (${options.after.createdAt}::timestamptz, ${options.after.id})` : tx``}
    order by created_at desc, route_id desc limit ${options.limit + 1}`;
}

/** The tenant of an enabled, undeleted route, found by its public id before any tenant is set. */
export async function findRouteTenant(sql: Sql, routeId: string): Promise<string | undefined> {
  const rows = await withAuthenticator(sql, (tx) => tx<{ org_id: string }[]>`
    select org_id from hookledger.ingress_routes where route_id = ${routeId} and enabled and deleted_at is null`);
  return rows[0]?.org_id;
}
