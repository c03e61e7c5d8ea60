/**
 * Loading a batch of due deliveries: the deliveries with their events, their subscriptions, signing secrets and
 * delivery-stream versions, with two autocommit statements sent together (one round trip, no transaction), and
 * the cancellation of deliveries whose subscription was disabled or deleted meanwhile, in a transaction of its
 * own — all before anything is sent. A subscription whose signing secrets or sealed headers the keyring cannot open
 * holds back its own deliveries only (`unopened`), not the batch.
 */
import type { AppContext } from "../context.ts";
import { OncePerInterval } from "../collections/oncePerInterval.ts";
import { encryptedKeyId } from "../crypto/encryption.ts";
import { DecryptionError, UnknownKeyError } from "../crypto/errors.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { deliveryStream } from "./appends.ts";
import type { EventToDeliver } from "./deliveryStore.ts";
import { openHeaders } from "./sealedHeaders.ts";
import { decryptSigningSecrets, type EncryptedSecretJson } from "./subscriptionSecrets.ts";
import { subscriptionColumns, type SubscriptionRow } from "./subscriptionStore.ts";

export const WORKER_META: EntryMeta = { actor: { kind: "worker" } };


/** One delivery a batch asks for; `attempt` undefined means "whatever attempt is next" (the test ping). */
export interface AttemptRequest {
  deliveryId: string;
  attempt?: number | undefined;
  /** A user asked for it (jobs.ts DeliveryJobItem.manual). */
  manual?: boolean | undefined;
}

export interface LoadedAttempt {
  deliveryId: string;
  attemptNumber: number;
  /** A user asked for this attempt: it goes out even while the endpoint's circuit is open. */
  manual: boolean;
  event: EventToDeliver;
  /** Its `headers` hold every custom header, sealed ones opened (`sealed_headers` is then empty). */
  subscription: SubscriptionRow;
  secrets: string[];
  /**
   * The delivery stream's version when loaded (0: no entry yet, a fanned-out delivery before its first attempt):
   * the outcome is appended only if it is still that.
   */
  version: number;
  /** The event's trace (its fan-out span), when it was ingested with tracing on: attempt spans join it. */
  traceparent: string | null;
}

export type Skipped = { deliveryId: string; reason: string };

/**
 * A due delivery whose subscription's signing secrets or sealed headers the keyring cannot open (a key removed too
 * early, a key id reused for another key, a row altered): not attempted, since the endpoint is not at fault, and
 * put off like a delivery behind an open circuit, schedule kept, until the keyring is fixed.
 */
export interface Unopened {
  deliveryId: string;
  attemptNumber: number;
  manual: boolean;
}

type EncryptedSubscription = SubscriptionRow & { deleted: boolean; encrypted_secrets: EncryptedSecretJson[] };

/** What a load sends a subscription's deliveries with, or `undefined` when the keyring cannot open it. */
type Opened = { subscription: SubscriptionRow; secrets: string[] } | undefined;

/**
 * How often a subscription the keyring cannot open is logged again while it stays so: its deliveries come round
 * after every circuit cooldown (30 s by default), each load meeting it again, and one line per load buried the log
 * in the same error. The metric `hookledger_deliveries_deferred_total{reason="secret unavailable"}` counts every one.
 */
const UNOPENED_LOG_INTERVAL_MS = 10 * 60_000;
const unopenedLogs = new WeakMap<AppContext, OncePerInterval>();

function unopenedLogOf(ctx: AppContext): OncePerInterval {
  let once = unopenedLogs.get(ctx);
  if (!once) unopenedLogs.set(ctx, (once = new OncePerInterval(UNOPENED_LOG_INTERVAL_MS)));
  return once;
}

/**
 * The subscription with its sealed header values opened into `headers`, and its signing secrets. Opening fails for
 * this subscription alone: it is logged (ids only, never a value; once per subscription every ten minutes, with the
 * loads since that met it too) and answered `undefined`; any other error throws.
 */
function openedForSending(ctx: AppContext, orgId: string, row: SubscriptionRow, encryptedSecrets: readonly EncryptedSecretJson[]): Opened {
  try {
    const secrets = decryptSigningSecrets(ctx.keyring, row.subscription_id, encryptedSecrets).map((secret) => secret.secret);
    return { subscription: { ...row, headers: openHeaders(ctx.keyring, row.subscription_id, row), sealed_headers: {} }, secrets };
  } catch (error) {
    if (!(error instanceof UnknownKeyError || error instanceof DecryptionError)) throw error;
    const passedOver = unopenedLogOf(ctx).take(row.subscription_id);
    if (passedOver === undefined) return undefined;
    // The key ids its values are stored under (the one missing, when that is the reason): what the operator looks
    // for in HOOKLEDGER_ENCRYPTION_KEYS and in `hookledger reencrypt --dry-run`.
    const stored = [...encryptedSecrets.map((secret) => secret.ciphertext), ...Object.values(row.sealed_headers)].map(encryptedKeyId);
    const keyIds = error instanceof UnknownKeyError ? [error.keyId] : [...new Set(stored.map((keyId) => keyId ?? "(not in the v1 format)"))];
    ctx.log.error("a subscription's signing secret or sealed header cannot be opened with the encryption keyring; its deliveries wait until it can (check HOOKLEDGER_ENCRYPTION_KEYS, run `hookledger reencrypt --dry-run`)", {
      org_id: orgId,
      subscription_id: row.subscription_id,
      key_ids: keyIds,
      reason: error.name,
      // Loads that met it since the last line (not logged): it is still so.
      ...(passedOver > 0 ? { loads_since_last_logged: passedOver } : {}),
    });
    return undefined;
  }
}

interface DeliveryWithEvent extends EventToDeliver {
  delivery_id: string;
  version: number;
  status: string;
  attempts: number;
  subscription_id: string;
  traceparent: string | null;
}

export async function loadAttempts(ctx: AppContext, orgId: string, requests: AttemptRequest[]): Promise<{ ready: LoadedAttempt[]; skipped: Skipped[]; unopened: Unopened[] }> {
  const ids = requests.map((request) => request.deliveryId);
  const now = ctx.now();
  // Two autocommit reads sent together, each setting the tenant for itself (sql/068): no transaction stays open
  // while this process, busy sending, gets round to it. The stream version is read in the same statement as the
  // delivery's attempts: under READ COMMITTED each statement has its own snapshot, and a version read after another
  // worker's commit beside an attempt count read before it would let this run record an attempt number that run
  // already recorded.
  // In that statement (sql/068) the streams are found by `stream = any($names)`: a comparison with a built name
  // ('delivery:' || id) is not leakproof, so under row-level security it cannot use the index and the planner read
  // the whole streams table (15 ms per batch at 9k streams, 1.5 s at 200k in the bench). Each delivery and each
  // event is found by its key (a lateral lookup, which `limit 1` keeps from being turned into a join, sql/072):
  // joined, a plan made on young statistics read every event of the organization and probed deliveries for each
  // (10,334 buffers for 192 deliveries), and `delivery_id = any($ids)` let PostgreSQL 18 skip-scan the
  // organization's whole part of the subscription index, whose last column is delivery_id (1,985 buffers for 164).
  // The subscriptions are found by the ids the deliveries name, collected first (an array): as a semi-join, a plan
  // that took the organization's 20 subscriptions for one walked each one's deliveries (1,043 buffers a load). They
  // are read column by column (sql/097): the table's whole row would compute its virtual url_for_audit (sql/094).
  const [deliveries, subscriptionRows] = await Promise.all([
    ctx.sql<DeliveryWithEvent[]>`select * from hookledger.deliveries_to_attempt(${orgId}::uuid, ${ids}::uuid[])`,
    ctx.sql<EncryptedSubscription[]>`
      select ${ctx.sql.unsafe(subscriptionColumns)}, deleted, encrypted_secrets
      from hookledger.subscriptions_to_attempt(${orgId}::uuid, ${ids}::uuid[], ${now}::timestamptz)`,
  ]);
  const byId = new Map(deliveries.map((row) => [row.delivery_id, row]));
  // Secrets are decrypted once per subscription that sends; they stay out of the subscription row. Sealed header
  // values are opened once per subscription that sends too, into `headers`, which the request and the scrubbing of
  // the receiver's answer (responseScrubbing.ts) then read whole. Each subscription is opened on its own: one the
  // keyring cannot open failed the whole load, and so every delivery of the organization's batch, again and again.
  const subscriptionOf = new Map(
    subscriptionRows.map(({ deleted, encrypted_secrets, ...row }) => {
      const sends = !deleted && row.enabled;
      const opened = sends ? openedForSending(ctx, orgId, row, encrypted_secrets) : { subscription: row, secrets: [] };
      return [row.subscription_id, { subscription: opened?.subscription ?? row, deleted, secrets: opened?.secrets ?? [], unopened: opened === undefined }];
    }),
  );

  const ready: LoadedAttempt[] = [];
  const skipped: Skipped[] = [];
  const unopened: Unopened[] = [];
  const cancelled: { deliveryId: string; appId: string; reason: string }[] = [];
  for (const request of requests) {
    const row = byId.get(request.deliveryId);
    if (!row || (row.status !== "pending" && row.status !== "retrying")) {
      skipped.push({ deliveryId: request.deliveryId, reason: `delivery is ${row?.status ?? "missing"}` });
      continue;
    }
    if (request.attempt !== undefined && request.attempt !== row.attempts + 1) {
      skipped.push({ deliveryId: request.deliveryId, reason: `attempt ${request.attempt} was already made` });
      continue;
    }
    const found = subscriptionOf.get(row.subscription_id);
    if (!found || found.deleted || !found.subscription.enabled) {
      const reason = found && !found.deleted ? "subscription disabled" : "subscription deleted";
      cancelled.push({ deliveryId: request.deliveryId, appId: row.app_id, reason });
      skipped.push({ deliveryId: request.deliveryId, reason });
      continue;
    }
    if (found.unopened) {
      unopened.push({ deliveryId: row.delivery_id, attemptNumber: row.attempts + 1, manual: request.manual === true });
      continue;
    }
    const { delivery_id, status: _status, attempts, subscription_id: _subscriptionId, version, traceparent, ...event } = row;
    ready.push({
      deliveryId: delivery_id,
      attemptNumber: attempts + 1,
      manual: request.manual === true,
      event,
      subscription: found.subscription,
      secrets: found.secrets,
      version,
      traceparent,
    });
  }
  if (cancelled.length > 0) {
    await withTenant(ctx.sql, orgId, (tx) =>
      ctx.ledger.recordMany(
        tx,
        cancelled.map(({ deliveryId, appId, reason }) => ({
          stream: deliveryStream(deliveryId),
          expectedStreamVersion: ANY_VERSION,
          entries: [{ type: "delivery.cancelled" as const, data: { delivery_id: deliveryId, app_id: appId, reason }, meta: WORKER_META }],
        })),
      ),
    );
  }
  return { ready, skipped, unopened };
}
