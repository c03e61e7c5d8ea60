/**
 * Ingress routes: commands. Each records ledger entries on the route's stream; secret values go to
 * ingress_route_secrets only (see routeSecrets.ts), and the entries name secret ids and windows.
 *
 * Where accepted requests go (an application's event type, a pull queue) is checked when the route is saved,
 * so a typo is a 400 now rather than a failed publish later; an application named by its uid is stored by its id.
 * A custom path another live route of the organization holds is refused by the projection's unique index, in the
 * same transaction as the append, so nothing is written.
 *
 * Changes and deletion read the route with its row lock (getRouteForChange), as the secret commands do, so a change
 * of the route's authentication and a change of its secrets are decided one after another: every secret the route
 * holds always fits its authentication, whichever order they come in.
 */
import { namesAChange } from "../collections/namesAChange.ts";
import { assertBelowQuota, ingressRouteCount, quotasOf } from "../tenancy/quotas.ts";
import type { AppContext } from "../context.ts";
import type { Tx } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION, STREAM_DOES_NOT_EXIST } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { getEventType } from "../outbound/eventTypes.ts";
import { appRefOf, applicationIdOfUid } from "../tenancy/applicationRefs.ts";
import { getApplication } from "../tenancy/applications.ts";
import type { IngressAuth } from "./entries.ts";
import { newRouteId } from "./ids.ts";
import { IngressInputError } from "./inputError.ts";
import { getPullQueue } from "./pullStore.ts";
import { getRoute, getRouteForChange, lockRouteChanges, type IngressRouteRow } from "./routeStore.ts";
import { addSecret, type AddedSecret, type SecretSpec } from "./routeSecretCommands.ts";
import { secretsForVerificationFrom, type SecretSource } from "./routeSecrets.ts";
import { checkSecretFits, SecretInputError } from "./secretInput.ts";
import { ingressRouteStream } from "./streams.ts";

export interface PublishTarget {
  app_id: string;
  event_type: string;
}

export interface RouteSpec {
  name: string;
  description: string | null;
  auth: IngressAuth;
  max_body_bytes: number;
  publish: PublishTarget | null;
  queue: string | null;
  /** Custom receive path (`/in/{org_id}/{path}`), unique among the organization's live routes. */
  path: string | null;
  enabled: boolean;
  /** Whether token holders may publish to the route by hand (see publishPolicy.ts). */
  manual_publish: boolean;
}

/** Another live route of the organization already has the custom path. */
export class RoutePathTakenError extends Error {
  override readonly name = "RoutePathTakenError";
}

/** The partial unique index of sql/015_ingress_route_paths.sql on live routes' (org_id, path). */
const ROUTE_PATH_INDEX = "ingress_routes_path_idx";

/**
 * Runs a route command in the tenant's transaction after taking the organization's route lock (see
 * lockRouteChanges), and turns a violation of the custom-path index into RoutePathTakenError.
 */
async function inRouteTransaction<T>(ctx: AppContext, orgId: string, command: (tx: Tx) => Promise<T>): Promise<T> {
  try {
    return await withTenant(ctx.sql, orgId, async (tx) => {
      await lockRouteChanges(tx);
      return command(tx);
    });
  } catch (error) {
    const pgError = error as { code?: string; constraint_name?: string } | null;
    if (pgError?.code === "23505" && pgError.constraint_name === ROUTE_PATH_INDEX) throw new RoutePathTakenError("the path is in use by another route");
    throw error;
  }
}

/**
 * The publish target as stored: its application named by its id, whether the request named it by id or by uid. A uid
 * is resolved here, once, when the route is saved: the route keeps publishing to that application if the uid later
 * moves to another one, as a route saved with the id would.
 */
async function resolvePublish(tx: Tx, publish: PublishTarget): Promise<PublishTarget> {
  const ref = appRefOf(publish.app_id);
  const appId = ref === undefined ? undefined : "id" in ref ? ref.id : await applicationIdOfUid(tx, ref.uid);
  if (appId === undefined || !(await getApplication(tx, appId))) throw new IngressInputError("publish.app_id", "no such application");
  if (!(await getEventType(tx, appId, publish.event_type))) {
    throw new IngressInputError("publish.event_type", "not registered for this application; create it first under /v1/applications/{app_id}/event-types");
  }
  return { app_id: appId, event_type: publish.event_type };
}

async function checkQueue(tx: Tx, queue: string | null | undefined): Promise<void> {
  if (queue && !(await getPullQueue(tx, queue))) throw new IngressInputError("queue", "no such pull queue; create it first with POST /v1/pull-queues");
}

/**
 * Refuses authentication that a secret the route holds cannot serve, with the check POST applies to each secret it
 * is given (checkSecretFits): switching a route to the standard-webhooks or hookledger-v1 preset while it holds a
 * secret that is not `whsec_…` would make every webhook a 401 `misconfigured`, and switching it to basic auth while
 * it holds a short literal HMAC key would make that key a short password. Every stored secret counts, ended ones
 * too: a secret's window can be reopened later (PATCH …/secrets/{id}), and that change is not checked again.
 */
async function checkSecretsFit(ctx: AppContext, tx: Tx, routeId: string, auth: IngressAuth): Promise<void> {
  if (auth.type === "forward") return;
  const rows = await tx<{ route_id: string; secret_id: string; ciphertext: string; source: SecretSource; valid_from: Date; valid_until: Date | null }[]>`
    select route_id, secret_id, ciphertext, source, valid_from, valid_until from hookledger.ingress_route_secrets
    where org_id = hookledger.current_org_id() and route_id = ${routeId}
    order by valid_from, created_at, secret_id`;
  const secrets = secretsForVerificationFrom(rows, ctx.keyring, [{ routeId, endedAfter: new Date(0) }]).get(routeId) ?? [];
  const sources = new Map(rows.map((row) => [row.secret_id, row.source]));
  for (const secret of secrets) {
    try {
      checkSecretFits(secret.value, sources.get(secret.id) ?? "value", auth, "value");
    } catch (error) {
      if (!(error instanceof SecretInputError)) throw error;
      throw new IngressInputError("auth", `the route's secret ${secret.id} cannot be used with it: ${error.message}; add one that can and remove the others first`);
    }
  }
}

export async function createIngressRoute(
  ctx: AppContext,
  orgId: string,
  spec: RouteSpec,
  secrets: SecretSpec[],
  meta: EntryMeta,
): Promise<{ route: IngressRouteRow; secrets: AddedSecret[] }> {
  const routeId = newRouteId();
  return inRouteTransaction(ctx, orgId, async (tx) => {
    assertBelowQuota("ingress_routes", await ingressRouteCount(tx), (await quotasOf(tx, ctx.config)).ingress_routes);
    const publish = spec.publish && (await resolvePublish(tx, spec.publish));
    await checkQueue(tx, spec.queue);
    await ctx.ledger.record(tx, ingressRouteStream(routeId), STREAM_DOES_NOT_EXIST, [{ type: "ingress_route.created", data: { route_id: routeId, ...spec, publish }, meta }]);
    const added: AddedSecret[] = [];
    for (const [i, secret] of secrets.entries()) added.push(await addSecret(ctx, tx, { route_id: routeId, auth: spec.auth }, secret, `secrets.${i}`, meta));
    return { route: (await getRoute(tx, routeId)) as IngressRouteRow, secrets: added };
  });
}

export async function updateIngressRoute(
  ctx: AppContext,
  orgId: string,
  routeId: string,
  changes: Partial<RouteSpec>,
  meta: EntryMeta,
): Promise<IngressRouteRow | undefined> {
  return inRouteTransaction(ctx, orgId, async (tx) => {
    if (!(await getRouteForChange(tx, routeId))) return undefined;
    if (!namesAChange(changes)) return getRoute(tx, routeId);
    if (changes.auth) await checkSecretsFit(ctx, tx, routeId, changes.auth);
    const publish = changes.publish && (await resolvePublish(tx, changes.publish));
    await checkQueue(tx, changes.queue);
    const data = { route_id: routeId, ...changes, ...(publish === undefined ? {} : { publish }) };
    await ctx.ledger.record(tx, ingressRouteStream(routeId), ANY_VERSION, [{ type: "ingress_route.updated", data, meta }]);
    return getRoute(tx, routeId);
  });
}

export async function deleteIngressRoute(ctx: AppContext, orgId: string, routeId: string, meta: EntryMeta): Promise<boolean> {
  return inRouteTransaction(ctx, orgId, async (tx) => {
    if (!(await getRouteForChange(tx, routeId))) return false;
    await ctx.ledger.record(tx, ingressRouteStream(routeId), ANY_VERSION, [{ type: "ingress_route.deleted", data: { route_id: routeId }, meta }]);
    return true;
  });
}
