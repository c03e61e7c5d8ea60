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

/** A stored value the census tries to open: one per key id (`key_id`, as `keyIdSql` reads it) and kind. */
export interface CensusSample {
  key_id: string;
  value: string;
  associatedData: string;
}

/**
 * Tries each sample whose key id the keyring holds with that key, and adds the ids whose sample does not open to
 * `into.notOpening`. One value per id, the earliest written, is enough to tell a key replaced under its id (no value
 * written before the replacement opens), and costs one decryption per key id and kind, however many values there are.
 *
 * @example
 * probeSamples(census, keyring, [{ key_id: "k2026", value: row.ciphertext, associatedData: `subscription:${id}:${keyId}` }]);
 */
export function probeSamples(into: KeyCensus, keyring: Keyring, samples: readonly CensusSample[]): KeyCensus {
  for (const sample of samples) {
    if (!keyring.keyIds.includes(sample.key_id)) continue;
    try {
      decryptSecret(sample.value, keyring, sample.associatedData);
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      into.notOpening.add(sample.key_id);
    }
  }
  return into;
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
