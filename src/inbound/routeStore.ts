/**
 * Reads of the ingress_routes projection (writes happen only in inbound/projections.ts), and the lock that orders
 * route commands.
 *
 * The public receive endpoint finds the route before any tenant is set, from its id or from an organization id
 * and custom path, so `findRouteTenant` and `findRouteByPath` run as `hookledger_authenticator`, which may read the
 * org id, route id, path and status columns across tenants and nothing else; everything further is read inside
 * `withTenant`, under row-level security like any other request.
 */
import { withAuthenticator } from "../db/localRole.ts";
import type { Queryable, Sql } from "../db/connect.ts";
import type { IngressAuth } from "./entries.ts";

export interface IngressRouteRow {
  org_id: string;
  route_id: string;
  name: string;
  description: string | null;
  auth: IngressAuth;
  max_body_bytes: number;
  publish_app_id: string | null;
  publish_event_type: string | null;
  queue: string | null;
  path: string | null;
  enabled: boolean;
  /** False: POST /v1/ingress-routes/{route_id}/publish is refused for this route. */
  manual_publish: boolean;
  created_at: Date;
  updated_at: Date;
}

const columns = `org_id, route_id, name, description, auth, max_body_bytes, publish_app_id, publish_event_type, queue, path,
  enabled, manual_publish, created_at, updated_at`;

export async function getRoute(tx: Queryable, routeId: string): Promise<IngressRouteRow | undefined> {
  const [row] = await tx<IngressRouteRow[]>`
    select ${tx.unsafe(columns)} from hookledger.ingress_routes
    where org_id = hookledger.current_org_id() and route_id = ${routeId} and deleted_at is null`;
  return row;
}

/**
 * A live route, locked against other changes until the transaction ends, so changes to its secrets are decided one
 * after another: two requests adding the same secret id at once got past the "already has one" check together and
 * one met the primary key (500), and the live-secret cap could be passed the same way.
 */
export async function getRouteForChange(tx: Queryable, routeId: string): Promise<IngressRouteRow | undefined> {
  const [row] = await tx<IngressRouteRow[]>`
    select ${tx.unsafe(columns)} from hookledger.ingress_routes
    where org_id = hookledger.current_org_id() and route_id = ${routeId} and deleted_at is null
    for no key update`;
  return row;
}

/**
 * Several live routes of one organization outside any transaction: the statement sets the tenant itself
 * (hookledger.ingress_routes_of, sql/060), so it can be sent together with another read in one round trip.
 */
export async function getRoutesOf(sql: Queryable, orgId: string, routeIds: string[]): Promise<IngressRouteRow[]> {
  return sql<IngressRouteRow[]>`select ${sql.unsafe(columns)} from hookledger.ingress_routes_of(${orgId}::uuid, ${routeIds}::text[])`;
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

/**
 * The id of an organization's enabled, undeleted route with this custom path, found before any tenant is set.
 * The caller checks that `orgId` is a UUID first: a malformed one would make Postgres throw, not find nothing.
 *
 * @example
 * await findRouteByPath(sql, "0b6a5f5e-8d5c-4f37-9a57-3f6f1f0e2a11", "github/main"); // "rt_…" or undefined
 */
export async function findRouteByPath(sql: Sql, orgId: string, path: string): Promise<string | undefined> {
  const rows = await withAuthenticator(sql, (tx) => tx<{ route_id: string }[]>`
    select route_id from hookledger.ingress_routes
    where org_id = ${orgId} and path = ${path} and enabled and deleted_at is null`);
  return rows[0]?.route_id;
}

/**
 * Serialises the route commands of the current organization until the transaction ends. A path freed by one
 * command (delete, change) and claimed by another must reach the ledger in the order the two commit: a rebuild
 * replays by position, and would otherwise meet the claim while the old holder is still live and hit the unique
 * index. Route changes are rare, so one lock per organization costs nothing that matters.
 *
 * @example
 * await withTenant(sql, orgId, async (tx) => { await lockRouteChanges(tx); … });
 */
export async function lockRouteChanges(tx: Queryable): Promise<void> {
  await tx`select pg_advisory_xact_lock(hashtextextended('hookledger.ingress_routes:' || hookledger.current_org_id()::text, 0))`;
}
