/**
 * Strict decoders for the encodings signatures and keys travel in.
 *
 * `Buffer.from(text, "base64")` skips characters it does not know and accepts both alphabets, so a header such as
 * `"abc!!!"` would decode to something. Here a text decodes only if encoding the result again gives back exactly
 * the same text; anything else is `undefined`, which callers report as malformed.
 */
import { Buffer } from "node:buffer";

/**
 * Decodes canonical, padded, standard-alphabet base64.
 *
 * @example
 * decodeBase64("aGk="); // Uint8Array [104, 105]
 * decodeBase64("aGk");  // undefined (padding missing)
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : undefined;
}

/**
 * Decodes canonical, unpadded base64url (RFC 4648 §5).
 *
 * @example
 * decodeBase64Url("aGk"); // Uint8Array [104, 105]
 */
export function decodeBase64Url(text: string): Uint8Array | undefined {
  const bytes = Buffer.from(text, "base64url");
  return bytes.toString("base64url") === text ? bytes : undefined;
}

/**
 * Decodes hexadecimal in either case; an odd length or any other character gives `undefined`.
 *
 * @example
 * decodeHex("0aFF"); // Uint8Array [10, 255]
 */
export function decodeHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  return Buffer.from(text, "hex");
}
