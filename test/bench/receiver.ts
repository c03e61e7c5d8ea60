/// <reference types="bun-types" />
/**
 * The webhook receiver on 127.0.0.1, as fast as Bun.serve allows. Paths choose the behaviour:
 *   /ok/…    200 at once          /fail/…  500 at once          /hang/…  no answer until the sender gives up
 * It records the first arrival of every delivery (by x-hookledger-delivery-id) with its event id, so the bench
 * can compute end-to-end latency from the moment the ingest request was accepted.
 */

export interface Arrival {
  eventId: string;
  at: number;
  kind: "ok" | "fail" | "hang";
}

export interface Receiver {
  url(path: string): string;
  /** First arrival per delivery id. */
  arrivals: Map<string, Arrival>;
  counts: { ok: number; fail: number; hang: number; repeats: number };
  /** Resolves when `count` distinct deliveries arrived (of `kind`, default ok), or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs: number, kind?: Arrival["kind"]): Promise<void>;
  /** Distinct deliveries of a kind that arrived in [from, to) (performance.now() times). */
  countBetween(kind: Arrival["kind"], from: number, to: number): number;
  reset(): void;
  close(): Promise<void>;
}

export function startReceiver(): Receiver {
  const arrivals = new Map<string, Arrival>();
  const counts = { ok: 0, fail: 0, hang: 0, repeats: 0 };
  const distinct = { ok: 0, fail: 0, hang: 0 };
  const hanging = new Set<() => void>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // Hanging requests must outlive the sender's timeout; Bun's default idle timeout (10 s) would end them first.
    idleTimeout: 0,
    async fetch(request) {
      const at = performance.now();
      const path = new URL(request.url).pathname;
      const kind: Arrival["kind"] = path.startsWith("/hang/") ? "hang" : path.startsWith("/fail/") ? "fail" : "ok";
      await request.arrayBuffer();
      const deliveryId = request.headers.get("x-hookledger-delivery-id") ?? "";
      counts[kind] += 1;
      if (arrivals.has(deliveryId)) counts.repeats += 1;
      else {
        arrivals.set(deliveryId, { eventId: request.headers.get("x-hookledger-event-id") ?? "", at, kind });
        distinct[kind] += 1;
      }
      if (kind === "hang") {
        return new Promise<Response>((resolve) => {
          const release = () => resolve(new Response("late", { status: 200 }));
          hanging.add(release);
          setTimeout(() => {
            hanging.delete(release);
            release();
          }, 120_000);
        });
      }
      return new Response(kind === "ok" ? "ok" : "nope", { status: kind === "ok" ? 200 : 500 });
    },
  });
  const countOf = (kind: Arrival["kind"]) => distinct[kind];
  return {
    url: (path) => `http://127.0.0.1:${server.port}${path}`,
    arrivals,
    counts,
    async waitFor(count, timeoutMs, kind = "ok") {
      const deadline = performance.now() + timeoutMs;
      while (countOf(kind) < count) {
        if (performance.now() > deadline) throw new Error(`receiver: expected ${count} ${kind} deliveries, got ${countOf(kind)} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    countBetween(kind, from, to) {
      let n = 0;
      for (const arrival of arrivals.values()) if (arrival.kind === kind && arrival.at >= from && arrival.at < to) n += 1;
      return n;
    },
    reset() {
      arrivals.clear();
      Object.assign(distinct, { ok: 0, fail: 0, hang: 0 });
      Object.assign(counts, { ok: 0, fail: 0, hang: 0, repeats: 0 });
    },
    async close() {
      for (const release of hanging) release();
      hanging.clear();
      await server.stop(true);
    },
  };
}
