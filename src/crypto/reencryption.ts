/**
 * Moving stored values to the keyring's active key after a rotation (the `reencrypt` command): one value at a time
 * here, the tables' walks in the modules that own them. A value is decrypted with the key it names and encrypted
 * again under the active key with the same associated data, so it opens exactly where it opened before.
 *
 * A value that cannot be moved is told, never thrown: the command walks every organization's values while the
 * service runs, and one value under a key removed too early, or one altered in the database, must not stop the
 * others from moving. Counts by key id (`KeyCensus`) are what tells the operator when an old key can be removed.
 */
import { decryptSecret, encryptSecret } from "./encryption.ts";
import { DecryptionError, UnknownKeyError } from "./errors.ts";
import type { Keyring } from "./keyring.ts";

/** Rows a walk reads, re-encrypts and writes in one short transaction. */
export const REENCRYPTION_BATCH = 100;

/**
 * `value` encrypted anew under the keyring's active key, bound to the same `associatedData`; `undefined` when it does
 * not open: it names a key the keyring does not hold, is malformed, or does not authenticate.
 *
 * @example
 * const moved = reencryptSecret(row.ciphertext, ctx.keyring, `subscription:${id}:${keyId}`);
 * if (moved !== undefined) await tx`update … set ciphertext = ${moved} where … and ciphertext = ${row.ciphertext}`;
 */
export function reencryptSecret(value: string, keyring: Keyring, associatedData: string): string | undefined {
  try {
    return encryptSecret(decryptSecret(value, keyring, associatedData), keyring, associatedData);
  } catch (error) {
    if (error instanceof UnknownKeyError || error instanceof DecryptionError) return undefined;
    throw error;
  }
}

/** What moving one kind of value did. */
export interface MoveCount {
  /** Values written anew under the active key. */
  moved: number;
  /** Values left as they were because they do not open: a key the keyring lacks, malformed, or altered. */
  unopened: number;
}

export const noMoves = (): MoveCount => ({ moved: 0, unopened: 0 });

export const addMoves = (into: MoveCount, more: MoveCount): MoveCount => {
  into.moved += more.moved;
  into.unopened += more.unopened;
  return into;
};

/** Stored values counted by the key id they name; `malformed` counts those that name none. */
export interface KeyCensus {
  byKeyId: Map<string, number>;
  malformed: number;
  /**
   * Key ids of the keyring under which a value, tried, did not open with the keyring's key of that id: the id was
   * given to another key (the old key dropped and its id reused), or the value was altered. Counting by id alone
   * would call such values fine, under the active key even.
   */
  notOpening: Set<string>;
}

export const emptyCensus = (): KeyCensus => ({ byKeyId: new Map(), malformed: 0, notOpening: new Set() });

/**
 * The SQL expression that puts the value written earliest first when `min(array[<this>, value, …])` picks a key id's
 * sample: `column` a timestamptz the caller's table keeps (written at or after the value), as text that sorts as
 * time does. The earliest value is the one a key replaced under its id since cannot open; a value written after the
 * replacement would open and hide it. `column` is the caller's own column name, never input.
 */
export const writtenAtSql = (column: string): string => `to_char(${column} at time zone 'UTC', 'YYYYMMDDHH24MISSUS')`;

/**
 * A census row of `select <keyIdSql> as key_id, count(*)::int as n, min(array[<writtenAtSql>, value, …]) as sample …
 * group by 1`: the key id's count and its earliest written value, with what that value is bound to after it.
 */
export interface SampledCensusRow<S extends string[]> {
  key_id: string | null;
  n: number;
  sample: S;
}

/**
 * The census of `rows`, each key id's sample tried with the keyring's key of that id: an id whose sample does not open
 * goes to `notOpening`. One value per id, the earliest written, is enough to tell a key replaced under its id (no value
 * written before the replacement opens), and costs one decryption per key id and kind, however many values there are.
 * `associatedDataOf` gives what the sample's value is bound to, from the sample's columns.
 *
 * @example
 * sampledCensus(rows, keyring, ([, , subscriptionId, secretId]) => `subscription:${subscriptionId}:${secretId}`);
 */
export function sampledCensus<S extends [string, string, ...string[]]>(rows: readonly SampledCensusRow<S>[], keyring: Keyring, associatedDataOf: (sample: S) => string): KeyCensus {
  const census = addToCensus(emptyCensus(), rows);
  for (const { key_id: keyId, sample } of rows) {
    if (keyId === null || !keyring.keyIds.includes(keyId)) continue;
    try {
      decryptSecret(sample[1], keyring, associatedDataOf(sample));
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      census.notOpening.add(keyId);
    }
  }
  return census;
}

/**
 * The SQL expression for the key id a stored value names, NULL for a malformed one: the check `encryptedKeyId` makes,
 * for counting in the database. `column` is the caller's own column name, never input.
 */
export const keyIdSql = (column: string): string => `case when ${column} ~ '^v1\\.[A-Za-z0-9_-]{1,32}\\.' then split_part(${column}, '.', 2) end`;

/** Adds rows of `select <keyIdSql> as key_id, count(*)::int as n … group by 1` to `into`. */
export function addToCensus(into: KeyCensus, rows: readonly { key_id: string | null; n: number }[]): KeyCensus {
  for (const row of rows) {
    if (row.key_id === null) into.malformed += row.n;
    else into.byKeyId.set(row.key_id, (into.byKeyId.get(row.key_id) ?? 0) + row.n);
  }
  return into;
}
