/**
 * The per-process cache behind the token and ingress-route caches, against a real LISTEN connection: what it may
 * keep and when it must read again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotifiedCache } from "../../src/db/notifiedCache.ts";
import { createLogger } from "../../src/log.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

const CHANNEL = "hookledger_test_cache_changed";

let db: TestDatabase;
let cache: NotifiedCache<string>;

beforeAll(async () => {
  db = await createTestDatabase();
  cache = new NotifiedCache({ url: db.ownerUrl, log: createLogger("silent"), channel: CHANNEL, ttlMs: 60_000, maxEntries: 3 });
  await cache.start();
});
afterAll(async () => {
  await cache?.stop();
  await db?.drop();
});

/** A loader that counts its reads and answers `value`. */
function counting(value: string | undefined) {
  const loader = async () => {
    loader.reads += 1;
    return value;
  };
  loader.reads = 0;
  return loader;
}

/** Retries `check` until it holds, for up to five seconds (notifications and reconnections are asynchronous). */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until the cache has dropped `key`: a read of it goes to the loader. */
async function untilDropped(key: string) {
  await until(async () => {
    const probe = counting("fresh");
    await cache.get(key, probe);
    return probe.reads === 1;
  });
}

describe("NotifiedCache", () => {
  it("answers from memory once found, and never keeps a miss", async () => {
    const found = counting("v1");
    expect(await cache.get("found", found)).toBe("v1");
    expect(await cache.get("found", found)).toBe("v1");
    expect(found.reads).toBe(1);

    const missing = counting(undefined);
    expect(await cache.get("missing", missing)).toBeUndefined();
    expect(await cache.get("missing", missing)).toBeUndefined();
    expect(missing.reads).toBe(2);
  });

  it("drops a key named by a notification, and every key on `*`", async () => {
    await cache.get("a", counting("a"));
    await cache.get("b", counting("b"));
    await db.owner`select pg_notify(${CHANNEL}, 'a')`;
    await untilDropped("a");
    const b = counting("b2");
    expect(await cache.get("b", b)).toBe("b");
    expect(b.reads).toBe(0);

    await db.owner`select pg_notify(${CHANNEL}, '*')`;
    await untilDropped("b");
  });

  it("does not keep what a read brought back after a change announced while it ran", async () => {
    let release: (value: string) => void = () => undefined;
    const slow = new Promise<string>((resolve) => (release = resolve));
    const pending = cache.get("raced", () => slow);
    cache.forget("raced"); // the change lands while the read is in flight
    release("stale");
    expect(await pending).toBe("stale");
    const again = counting("current");
    expect(await cache.get("raced", again)).toBe("current");
    expect(again.reads).toBe(1);
  });

  it("reads again a value the caller refuses", async () => {
    await cache.get("refused", counting("old"));
    const reread = counting("new");
    expect(await cache.get("refused", reread, (value) => value !== "old")).toBe("new");
    expect(reread.reads).toBe(1);
  });

  it("keeps at most maxEntries, dropping the oldest", async () => {
    cache.forgetAll();
    for (const key of ["k1", "k2", "k3", "k4"]) await cache.get(key, counting(key));
    const k1 = counting("k1 again");
    expect(await cache.get("k1", k1)).toBe("k1 again");
    expect(k1.reads).toBe(1);
    const k4 = counting("k4 again");
    expect(await cache.get("k4", k4)).toBe("k4");
    expect(k4.reads).toBe(0);
  });

  it("reads every time while its connection is down, and starts afresh once it is back", async () => {
    await cache.get("through", counting("before"));
    await db.owner`select pg_terminate_backend(pid) from pg_stat_activity
                   where application_name = 'hookledger-listen' and datname = current_database()`;
    await until(async () => {
      const down = counting("while down");
      return (await cache.get("through", down)) === "while down" && down.reads === 1;
    });
    // Reconnected: the cache serves again, from what it read after reconnecting.
    await until(async () => {
      await cache.get("through", counting("after"));
      const second = counting("unused");
      return (await cache.get("through", second)) === "after" && second.reads === 0;
    });
  });
});
