/**
 * Values the keyring cannot open, for tests of what happens then: an encrypted value (`v1.<key id>.…`) moved onto a
 * key id no test keyring holds, as when a key is removed before `reencrypt` moved everything off it.
 */
import type { Sql } from "../../src/db/connect.ts";

/** The key id no test keyring holds; an answer that names it leaks the stored value's key id. */
export const MISSING_KEY_ID = "kremoved";

/**
 * SQL for `column`'s encrypted value moved onto MISSING_KEY_ID, for an UPDATE run as the owner role.
 *
 * @example
 * await db.owner`update hookledger.subscription_secrets set ciphertext = ${onMissingKey(db.owner, "ciphertext")} where subscription_id = ${id}`;
 */
export function onMissingKey(sql: Sql, column: "ciphertext" | "answer") {
  return sql.unsafe(`regexp_replace(${column}, '^v1\\.[^.]+\\.', 'v1.${MISSING_KEY_ID}.')`);
}
