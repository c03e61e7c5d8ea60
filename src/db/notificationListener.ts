/**
 * A LISTEN connection that reconnects by itself, for caches invalidated by NOTIFY.
 *
 * Why `pg` and not postgres.js's `listen`: on Bun, postgres.js's listener reconnecting while Postgres was stopping
 * threw a TypeError inside its write loop, outside any promise, which no caller can catch. graphile-worker's own
 * listener runs on `pg` and rides out the same restarts. `onConnected` runs after every (re)connection, because
 * notifications sent while the connection was down are lost.
 */
import pg from "pg";
import type { Logger } from "../log.ts";

const RETRY_DELAYS_MS = [250, 1000, 2000, 5000];
/**
 * How often the connection is checked. A connection that died without a FIN or RST (a partition, a failover that
 * moved the address) raises no error by itself: until it does, notifications are lost while the cache trusts it.
 */
const PING_INTERVAL_MS = 5000;
const PING_TIMEOUT_MS = 2000;

export interface NotificationListener {
  /** True while the LISTEN is in place, i.e. notifications are being received. */
  isListening(): boolean;
  close(): Promise<void>;
}

export async function listenForNotifications(options: {
  url: string;
  channel: string;
  log: Logger;
  onNotification: (payload: string) => void;
  onConnected: () => void;
}): Promise<NotificationListener> {
  let client: pg.Client | undefined;
  let listening = false;
  let closed = false;
  let failures = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;

  let ping: ReturnType<typeof setInterval> | undefined;

  const lost = (current: pg.Client, error?: unknown) => {
    if (client !== current) return;
    listening = false;
    client = undefined;
    if (ping) clearInterval(ping);
    current.end().catch(() => undefined);
    if (closed) return;
    if (error) options.log.warn("notification listener lost its connection; reconnecting", { channel: options.channel, error });
    retry = setTimeout(() => void connect(), RETRY_DELAYS_MS[Math.min(failures++, RETRY_DELAYS_MS.length - 1)]);
    retry.unref?.();
  };

  const connect = async (): Promise<void> => {
    const current = new pg.Client({ connectionString: options.url, application_name: "hookledger-listen", keepAlive: true });
    client = current;
    current.on("error", (error) => lost(current, error));
    current.on("end", () => lost(current));
    current.on("notification", (message) => {
      if (message.channel === options.channel) options.onNotification(message.payload ?? "");
    });
    try {
      await current.connect();
      await current.query(`listen ${pg.escapeIdentifier(options.channel)}`);
      if (client !== current) return;
      listening = true;
      failures = 0;
      options.onConnected();
      ping = setInterval(() => {
        const timeout = setTimeout(() => lost(current, new Error(`no answer to a ping within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
        current.query("select 1").then(
          () => clearTimeout(timeout),
          (error: unknown) => {
            clearTimeout(timeout);
            lost(current, error);
          },
        );
      }, PING_INTERVAL_MS);
      ping.unref?.();
    } catch (error) {
      lost(current, error);
    }
  };

  await connect();
  return {
    isListening: () => listening,
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      if (ping) clearInterval(ping);
      const current = client;
      client = undefined;
      listening = false;
      await current?.end().catch(() => undefined);
    },
  };
}
