import { Buffer } from "node:buffer";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import {
  DecryptionError,
  decryptSecret,
  encryptSecret,
  encryptedKeyId,
  generateKeyringSpec,
  InvalidKeyringError,
  parseKeyring,
  UnknownKeyError,
} from "../../src/crypto/encryption.ts";

const keyA = Buffer.alloc(32, 0xa1).toString("base64");
const keyB = Buffer.alloc(32, 0xb2).toString("base64");
const secret = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cy0xMjM0NQ==";
const row = "subscription:0b5f6a52-5c3e-4c7e-9a1c-1d2e3f4a5b6c";

function flipLastCharacter(text: string): string {
  const last = text.at(-1) === "A" ? "B" : "A";
  return text.slice(0, -1) + last;
}

describe("encryptSecret / decryptSecret", () => {
  const keyring = parseKeyring(`a:${keyA}`);

  it("round-trips, in the v1.<kid>.<iv>.<ciphertext> format, with a fresh IV each time", () => {
    const stored = encryptSecret(secret, keyring, row);
    expect(stored).toMatch(/^v1\.a\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(stored).not.toContain(secret);
    expect(decryptSecret(stored, keyring, row)).toBe(secret);
    expect(encryptSecret(secret, keyring, row)).not.toBe(stored);
    expect(decryptSecret(encryptSecret("", keyring, row), keyring, row)).toBe("");
    expect(decryptSecret(encryptSecret("clé ✓", keyring, row), keyring, row)).toBe("clé ✓");
    expect(encryptedKeyId(stored)).toBe("a");
  });

  it("fails with other associated data: a value copied to another row does not decrypt", () => {
    const stored = encryptSecret(secret, keyring, row);
    expect(() => decryptSecret(stored, keyring, "subscription:another")).toThrow(DecryptionError);
    expect(() => encryptSecret(secret, keyring, "")).toThrow(RangeError);
  });

  it("fails when any part was altered", () => {
    const stored = encryptSecret(secret, keyring, row);
    const [version, kid, iv, sealed] = stored.split(".") as [string, string, string, string];
    const sealedBytes = Buffer.from(sealed, "base64url");
    sealedBytes[0] = (sealedBytes[0] ?? 0) ^ 1;
    const attempts = [
      [version, kid, iv, sealedBytes.toString("base64url")].join("."),
      [version, kid, flipLastCharacter(iv), sealed].join("."),
      [version, kid, iv, sealed.slice(0, -4)].join("."),
      [version, kid, iv, Buffer.from(sealed, "base64url").subarray(0, 10).toString("base64url")].join("."),
      [version, kid, iv].join("."),
      ["v2", kid, iv, sealed].join("."),
      [version, "bad kid", iv, sealed].join("."),
      `${stored}.extra`,
      "plaintext-secret",
    ];
    for (const attempt of attempts) {
      expect(() => decryptSecret(attempt, keyring, row), attempt).toThrow(DecryptionError);
    }
  });

  it("rotates: new values use the first key, older keys still decrypt, removed keys are named", () => {
    const underA = encryptSecret(secret, parseKeyring(`a:${keyA}`), row);
    const rotated = parseKeyring(`b:${keyB},a:${keyA}`);
    expect(rotated.activeKeyId).toBe("b");
    expect(decryptSecret(underA, rotated, row)).toBe(secret);
    const underB = encryptSecret(secret, rotated, row);
    expect(encryptedKeyId(underB)).toBe("b");
    expect(decryptSecret(underB, rotated, row)).toBe(secret);

    const onlyB = parseKeyring(`b:${keyB}`);
    expect(() => decryptSecret(underA, onlyB, row)).toThrow(UnknownKeyError);
    expect(() => decryptSecret(underA, onlyB, row)).toThrow(/"a"/);
    // Same id, different key: authentication fails rather than yielding garbage.
    expect(() => decryptSecret(underA, parseKeyring(`a:${keyB}`), row)).toThrow(DecryptionError);
  });
});

describe("parseKeyring", () => {
  it("accepts base64 and base64url keys, with spaces around entries", () => {
    const urlKey = Buffer.alloc(32, 0xff).toString("base64url");
    const keyring = parseKeyring(` k1:${keyA} , k_2-x:${urlKey} `);
    expect(keyring.keyIds).toEqual(["k1", "k_2-x"]);
    expect(keyring.activeKeyId).toBe("k1");
  });

  it("never shows key material when logged or serialised", () => {
    const keyring = parseKeyring(`a:${keyA},b:${keyB}`);
    const shown = `${inspect(keyring, { showHidden: true, depth: 10 })} ${JSON.stringify(keyring)} ${String(Object.values(keyring))}`;
    for (const key of [keyA, keyB, Buffer.from(keyA, "base64").toString("hex")]) expect(shown).not.toContain(key);
    expect(shown).not.toMatch(/161, 161|a1 a1/);
  });

  const tooShort = Buffer.alloc(16, 0x33).toString("base64");
  const notBase64 = "Zm9v*YmFy!c2VjcmV0LWtleS1tYXRlcmlhbA";
  it.each([
    ["empty", "", /empty/],
    ["blank", "   ", /empty/],
    ["no key id", keyA, /entry 1 has no key id/],
    ["empty entry", `a:${keyA},,`, /entry 2 has no key id/],
    ["bad key id", `bad.id:${keyA}`, /entry 1: a key id is/],
    ["key id too long", `${"k".repeat(33)}:${keyA}`, /entry 1: a key id is/],
    ["duplicate id", `a:${keyA},a:${keyB}`, /entry 2: key id "a" appears twice/],
    ["not base64", `a:${notBase64}`, /entry 1 \(key id "a"\): the key is not valid base64/],
    ["16-byte key", `a:${keyA},b:${tooShort}`, /entry 2 \(key id "b"\): the key must be 32 bytes, it has 16/],
    ["reversed entry", `${keyA}:a`, /entry 1: a key id is/],
  ])("refuses %s without echoing key material", (_label, spec, message) => {
    let error: unknown;
    try {
      parseKeyring(spec);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidKeyringError);
    const text = (error as Error).message;
    expect(text).toMatch(message);
    for (const material of [keyA, keyB, tooShort, notBase64, keyA.slice(0, 12), notBase64.slice(0, 12)]) {
      expect(text).not.toContain(material);
    }
  });
});

describe("generateKeyringSpec", () => {
  it("generates a usable single-key spec with a random id", () => {
    const spec = generateKeyringSpec();
    expect(spec).toMatch(/^k[0-9a-f]{8}:[A-Za-z0-9+/]{43}=$/);
    const keyring = parseKeyring(spec);
    expect(keyring.keyIds).toHaveLength(1);
    expect(decryptSecret(encryptSecret(secret, keyring, row), keyring, row)).toBe(secret);
    expect(generateKeyringSpec()).not.toBe(spec);
  });
});
