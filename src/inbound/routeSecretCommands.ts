/**
 * Adding, re-windowing and removing secrets of an ingress route. A rotation is two calls: add the new secret
 * (valid from now, or from when the sender will switch), then end the old one with `valid_until` — the overlap in
 * between verifies with either, so the sender can switch at any moment inside it.
 */
import { namesAChange } from "../collections/namesAChange.ts";
import type { AppContext } from "../context.ts";
import type { Tx } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import type { IngressAuth } from "./entries.ts";
import { newSecretId } from "./ids.ts";
import { IngressInputError } from "./inputError.ts";
import { countLiveRouteSecrets, getRouteSecretInfo, removeRouteSecret, setRouteSecretWindow, storeRouteSecret, type RouteSecretInfo } from "./routeSecrets.ts";
import { getRouteForChange } from "./routeStore.ts";
import { fetchSecretMaterial, resolveSecretInput, SecretInputError, type SecretMaterial } from "./secretInput.ts";
import { ingressRouteStream } from "./streams.ts";

/** Secrets a route may hold at once that have not ended (current, upcoming, and inside rotation windows). */
export const MAX_LIVE_SECRETS = 10;

export interface SecretSpec {
  id?: string;
  /** The value, given or fetched from a reference by `fetchSecretSpec`; none means generate one. */
  material?: SecretMaterial;
  validFrom?: Date;
  validUntil?: Date | null;
}

/** A stored secret's description, with its value only when hookledger generated it (shown once). */
export type AddedSecret = RouteSecretInfo & { value?: string };

const fieldName = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);

/** Runs a secret-input step, naming a bad field by its place in the request body (`secrets.0.ref`). */
async function atField<T>(prefix: string, step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof SecretInputError) throw new IngressInputError(fieldName(prefix, error.field), error.message);
    throw error;
  }
}

/**
 * A secret as given in the API, with its reference (if any) resolved. Runs before the command's transaction: a
 * `vault:` reference is a network call.
 *
 * @example
 * const spec = await fetchSecretSpec(ctx, orgId, { id: "gh-2026", ref: `vault:secret/data/tenants/${orgId}/github#key` }, "secrets.0");
 * // { id: "gh-2026", material: { value: "…", source: "vault" } }
 */
export async function fetchSecretSpec(
  ctx: AppContext,
  orgId: string,
  input: { id?: string | undefined; value?: string | undefined; ref?: string | undefined; valid_from?: Date | undefined; valid_until?: Date | null | undefined },
  prefix: string,
): Promise<SecretSpec> {
  const material = await atField(prefix, () =>
    fetchSecretMaterial(input, { orgId, secrets: ctx.secrets, allowedReferences: ctx.config.HOOKLEDGER_TENANT_SECRET_REFS }),
  );
  return {
    ...(input.id !== undefined ? { id: input.id } : {}),
    ...(material !== undefined ? { material } : {}),
    ...(input.valid_from !== undefined ? { validFrom: input.valid_from } : {}),
    ...(input.valid_until !== undefined ? { validUntil: input.valid_until } : {}),
  };
}

/** Stores one secret and records `ingress_route.secret_added`, in the caller's transaction. */
export async function addSecret(
  ctx: AppContext,
  tx: Tx,
  route: { route_id: string; auth: IngressAuth },
  spec: SecretSpec,
  prefix: string,
  meta: EntryMeta,
): Promise<AddedSecret> {
  if (route.auth.type === "forward") throw new IngressInputError(prefix || "(body)", "forward-auth routes have no secrets");
  const now = ctx.now();
  const resolved = await atField(prefix, () => resolveSecretInput(spec.material, route.auth));
  const secretId = spec.id ?? newSecretId();
  // By default a new key also verifies requests signed up to one tolerance before it was added: a sender that
  // switches at once, with its clock a little behind, or a second-resolution timestamp, is not refused. It
  // widens nothing an attacker could use: whoever holds the key can sign any time inside the tolerance anyway.
  const validFrom = spec.validFrom ?? (route.auth.type === "hmac" ? new Date(now.getTime() - route.auth.tolerance_seconds * 1000) : now);
  const validUntil = spec.validUntil ?? null;
  if (validUntil && validUntil <= validFrom) throw new IngressInputError(fieldName(prefix, "valid_until"), "must be later than valid_from");
  if (await getRouteSecretInfo(tx, route.route_id, secretId)) throw new IngressInputError(fieldName(prefix, "id"), "this route already has a secret with this id");
  if ((await countLiveRouteSecrets(tx, route.route_id, now)) >= MAX_LIVE_SECRETS) {
    throw new IngressInputError(prefix || "(body)", `a route holds at most ${MAX_LIVE_SECRETS} secrets that have not ended; end or remove one first`);
  }
  await storeRouteSecret(tx, ctx.keyring, { routeId: route.route_id, secretId, value: resolved.value, source: resolved.source, validFrom, validUntil, createdAt: now });
  await ctx.ledger.record(tx, ingressRouteStream(route.route_id), ANY_VERSION, [
    {
      type: "ingress_route.secret_added",
      data: { route_id: route.route_id, secret_id: secretId, source: resolved.source, valid_from: validFrom.toISOString(), valid_until: validUntil?.toISOString() ?? null },
      meta,
    },
  ]);
  const info = { secret_id: secretId, source: resolved.source, valid_from: validFrom, valid_until: validUntil, created_at: now };
  return resolved.generated ? { ...info, value: resolved.value } : info;
}

export async function addIngressRouteSecret(ctx: AppContext, orgId: string, routeId: string, spec: SecretSpec, meta: EntryMeta): Promise<AddedSecret | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    const route = await getRouteForChange(tx, routeId);
    if (!route) return undefined;
    return addSecret(ctx, tx, route, spec, "", meta);
  });
}

/** Moves a secret's window; `undefined` leaves a bound as it is, `validUntil: null` makes the secret current again. */
export async function changeIngressRouteSecret(
  ctx: AppContext,
  orgId: string,
  routeId: string,
  secretId: string,
  changes: { validFrom?: Date; validUntil?: Date | null },
  meta: EntryMeta,
): Promise<RouteSecretInfo | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getRouteForChange(tx, routeId))) return undefined;
    const current = await getRouteSecretInfo(tx, routeId, secretId);
    if (!current) return undefined;
    if (!namesAChange(changes)) return current;
    const validFrom = changes.validFrom ?? current.valid_from;
    const validUntil = changes.validUntil === undefined ? current.valid_until : changes.validUntil;
    if (validUntil && validUntil <= validFrom) throw new IngressInputError("valid_until", "must be later than valid_from");
    await setRouteSecretWindow(tx, routeId, secretId, validFrom, validUntil);
    await ctx.ledger.record(tx, ingressRouteStream(routeId), ANY_VERSION, [
      {
        type: "ingress_route.secret_changed",
        data: { route_id: routeId, secret_id: secretId, valid_from: validFrom.toISOString(), valid_until: validUntil?.toISOString() ?? null },
        meta,
      },
    ]);
    return getRouteSecretInfo(tx, routeId, secretId);
  });
}

export async function removeIngressRouteSecret(ctx: AppContext, orgId: string, routeId: string, secretId: string, meta: EntryMeta): Promise<boolean> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getRouteForChange(tx, routeId)) || !(await getRouteSecretInfo(tx, routeId, secretId))) return false;
    await removeRouteSecret(tx, routeId, secretId);
    await ctx.ledger.record(tx, ingressRouteStream(routeId), ANY_VERSION, [{ type: "ingress_route.secret_removed", data: { route_id: routeId, secret_id: secretId }, meta }]);
    return true;
  });
}
