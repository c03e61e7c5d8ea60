/**
 * The body limit of `POST /v1/events`. An event's payload may be HOOKLEDGER_MAX_EVENT_BYTES, base64-encoded (4/3
 * larger) plus fields; the exact payload limit is enforced after decoding, with its own message. Its own module, with
 * no imports, because the configuration reads it too: the body budget must hold at least one such body.
 *
 * @example
 * eventRequestBodyBytes(512 * 1024); // 799540
 */
export const eventRequestBodyBytes = (maxEventBytes: number): number => Math.ceil(maxEventBytes * 1.4) + 64 * 1024;
