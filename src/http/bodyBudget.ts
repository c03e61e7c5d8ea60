/**
 * One process-wide budget of request-body bytes in memory (HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT). Every door limits
 * a single body (HOOKLEDGER_MAX_BODY_BYTES, a large-body route's limit, an ingress route's `max_body_bytes`, a
 * console form), but nothing limited their sum: 40 concurrent 10 MiB uploads to `/in` moved the process from 121 MB
 * to 372 MB resident, and a few hundred would exhaust a small VM. The per-IP rate limit counts requests, and slow
 * uploads are few requests holding much memory.
 *
 * A request reserves its body's size before the body is read — its declared Content-Length, or for a chunked body
 * the limit it is read up to — and gives it back when its handling ends, whatever ended it (an answer, an error,
 * its client leaving, the request timeout: the handler's read fails once the connection closes). A request that does
 * not fit is answered at once, its body unread: 503 `overloaded` with `Retry-After`, and `Connection: close` so the
 * runtime does not read the body either. A bodiless request reserves nothing; any other costs an integer added and
 * subtracted.
 *
 * One client (its address, an IPv6 one by its /64, as the rate limits see it: clientKey.ts) may hold only a share
 * of the budget (HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT, by default a quarter of it but at least the largest
 * single body):
 * with the whole budget for anyone, one client's slow uploads, held until the request timeout, refused every other
 * client's bodies for as long. Past its share a client is answered 429 `rate-limited`, its body unread, while others
 * keep theirs.
 */
import type { Registry } from "prom-client";
import { Counter, Gauge } from "prom-client";
import { clientKey } from "./clientKey.ts";
import { ProblemError } from "./problem.ts";

/** Seconds a refused client is asked to wait: reservations are held for at most a request's handling. */
export const OVERLOADED_RETRY_AFTER_SECONDS = 5;

const WHOLE_NUMBER = /^\d{1,15}$/;

/**
 * The bytes a request's body may hold in memory once read, from its head alone: none for GET and HEAD (the runtimes
 * give them no body) or a request that declares none; its Content-Length; or, chunked (or with a length that does
 * not parse), `maxBytes`, the most its reader takes. A declared length over `maxBytes` reserves nothing: the
 * door's limit refuses it (413) without reading it.
 *
 * @example
 * bytesToReserve(new Request("http://h/v1/events", { method: "POST", headers: { "content-length": "300" }, body: "…" }), 1024); // 300
 */
export function bytesToReserve(request: Request, maxBytes: number): number {
  if (request.method === "GET" || request.method === "HEAD") return 0;
  const headers = request.headers;
  if (headers.has("transfer-encoding")) return maxBytes;
  const declared = headers.get("content-length");
  if (declared === null) return 0;
  if (!WHOLE_NUMBER.test(declared)) return maxBytes;
  const bytes = Number(declared);
  return bytes > maxBytes ? 0 : bytes;
}

/** What a request holds of the budget, given back with `release`. */
export interface BodyReservation {
  readonly bytes: number;
  readonly client: string;
}

const NOTHING: BodyReservation = { bytes: 0, client: "" };

/** The bytes of request bodies this process holds, and the most it may, in all and per client. */
export class BodyBudget {
  #inFlight = 0;
  readonly #byClient = new Map<string, number>();

  constructor(
    readonly maxBytes: number,
    readonly maxBytesPerClient: number = maxBytes,
    private readonly refusals: { inc(labels: { limit: "process" | "client" }): void } = { inc: () => undefined },
  ) {}

  /** Bytes reserved by requests being handled right now. */
  get bytesInFlight(): number {
    return this.#inFlight;
  }

  /** Clients holding a reservation right now. */
  get clientsInFlight(): number {
    return this.#byClient.size;
  }

  /**
   * Reserves the bytes `request`'s body may hold (bytesToReserve) for the client at `clientAddress` and answers the
   * reservation, to be given back with `release` when the request's handling ends; throws 503 `overloaded` when they
   * do not fit the process's budget, 429 `rate-limited` when they would take the client past its share.
   *
   * @example
   * const held = budget.reserve(c.req.raw, maxBytes, c.get("clientIp"));
   * try { await handle(c); } finally { budget.release(held); }
   */
  reserve(request: Request, maxBytes: number, clientAddress: string): BodyReservation {
    const bytes = bytesToReserve(request, maxBytes);
    if (bytes === 0) return NOTHING;
    const client = clientKey(clientAddress);
    if (this.#inFlight + bytes > this.maxBytes) {
      this.refusals.inc({ limit: "process" });
      throw overloaded();
    }
    const held = this.#byClient.get(client) ?? 0;
    if (held + bytes > this.maxBytesPerClient) {
      this.refusals.inc({ limit: "client" });
      throw clientOverShare();
    }
    this.#inFlight += bytes;
    this.#byClient.set(client, held + bytes);
    return { bytes, client };
  }

  /** Gives back what `reserve` answered (a reservation of nothing gives back nothing). */
  release(reservation: BodyReservation): void {
    if (reservation.bytes === 0) return;
    this.#inFlight -= reservation.bytes;
    const left = (this.#byClient.get(reservation.client) ?? 0) - reservation.bytes;
    if (left > 0) this.#byClient.set(reservation.client, left);
    else this.#byClient.delete(reservation.client);
  }
}

/** 429 `rate-limited`: this client's bodies being received would pass its share; the connection is closed unread. */
function clientOverShare(): ProblemError {
  return new ProblemError("rate-limited", "this client is sending too many request bodies at once; retry when they are done", {
    headers: { "Retry-After": String(OVERLOADED_RETRY_AFTER_SECONDS), Connection: "close" },
    retry_after_seconds: OVERLOADED_RETRY_AFTER_SECONDS,
  });
}

/** 503 `overloaded`: this request's body would take the process over its budget; the connection is closed unread. */
export function overloaded(): ProblemError {
  return new ProblemError("overloaded", "the service is receiving too many request bodies at once; retry later", {
    headers: { "Retry-After": String(OVERLOADED_RETRY_AFTER_SECONDS), Connection: "close" },
    retry_after_seconds: OVERLOADED_RETRY_AFTER_SECONDS,
  });
}

/**
 * The budget of a process, with its metrics in `registry`: `hookledger_request_body_bytes_in_flight` (read at
 * scrape time) and `hookledger_request_bodies_refused_total`.
 *
 * @example
 * const bodies = createBodyBudget({ maxBytes: config.HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT, maxBytesPerClient: bodyBytesPerClient(config) }, metrics.registry);
 */
export function createBodyBudget(limits: { maxBytes: number; maxBytesPerClient: number }, registry: Registry): BodyBudget {
  const registers = [registry];
  const refusals = new Counter({
    name: "hookledger_request_bodies_refused_total",
    help: "Requests refused unread because their body did not fit: limit=process, 503 overloaded (HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT); limit=client, 429 rate-limited (HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT).",
    labelNames: ["limit"] as const,
    registers,
  });
  const budget = new BodyBudget(limits.maxBytes, limits.maxBytesPerClient, refusals);
  new Gauge({
    name: "hookledger_request_body_bytes_in_flight",
    help: "Bytes of request bodies reserved by requests being handled (their declared lengths, or their limits when chunked).",
    registers,
    collect() {
      this.set(budget.bytesInFlight);
    },
  });
  return budget;
}
