/**
 * Where the encryption keyring comes from: HOOKLEDGER_ENCRYPTION_KEYS (a secret reference), or — for the
 * zero-setup embedded database only — a keyring generated on first start and kept beside the data (mode 0600).
 * With an external database the keyring must be configured: a key that lived on one VM's disk would make the
 * secrets unreadable to every other process.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Config } from "./config.ts";
import { generateKeyringSpec, parseKeyring, type Keyring } from "./crypto/keyring.ts";
import { resolveSetting, type SecretResolver } from "./secrets/references.ts";

export async function loadKeyring(config: Config, embedded: boolean, secrets: SecretResolver): Promise<Keyring> {
  if (config.HOOKLEDGER_ENCRYPTION_KEYS) {
    return parseKeyring(await resolveSetting(secrets, "HOOKLEDGER_ENCRYPTION_KEYS", config.HOOKLEDGER_ENCRYPTION_KEYS));
  }
  if (!embedded) {
    throw new Error("HOOKLEDGER_ENCRYPTION_KEYS: required when DATABASE_URL is set (e.g. file:/etc/hookledger/keys holding kid:base64key)");
  }
  const file = path.join(config.HOOKLEDGER_DATA_DIR, "encryption-keys");
  let spec: string;
  try {
    spec = readFileSync(file, "utf8").trim();
  } catch {
    spec = generateKeyringSpec();
    writeFileSync(file, spec + "\n", { mode: 0o600 });
  }
  return parseKeyring(spec);
}
