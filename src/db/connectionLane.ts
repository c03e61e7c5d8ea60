/**
 * One connection for a chain of statements, so a statement sent while another runs is pipelined right behind it
 * on the same connection: Postgres starts on it the moment the first one ends, with no round trip between them.
 *
 * The connection is taken from the pool (reserved) by the first statement in flight and given back when none is
 * left in flight, so a lane never holds a connection while its owner waits for something else (a pool of N
 * connections cannot be tied up by lanes that wait for the pool). A pool's own routing would not do this: it sends
 * a statement to an idle connection, where it runs beside the first instead of after it. A connection that closes
 * fails the statements on it, and the lane's next statement takes another.
 *
 * @example
 * const lane = new ConnectionLane(sql);
 * const [a, b] = await Promise.all([lane.run((db) => db`select 1`), lane.run((db) => db`select 2`)]); // one connection, b sent behind a
 */
import type postgres from "postgres";
import type { Sql } from "./connect.ts";
import { isDatabaseUnavailable } from "./unavailable.ts";

interface Reservation {
  connection: Promise<postgres.ReservedSql>;
  inFlight: number;
}

export class ConnectionLane {
  private current: Reservation | undefined;

  constructor(private readonly sql: Sql) {}

  /**
   * Runs `statement` on the lane's connection. It must send its one statement before it first awaits anything
   * else: that is what keeps statements in the order they were handed to run().
   */
  async run<T>(statement: (db: Sql) => Promise<T>): Promise<T> {
    const reservation = (this.current ??= { connection: this.sql.reserve(), inFlight: 0 });
    reservation.inFlight += 1;
    try {
      return await statement(await reservation.connection);
    } catch (error) {
      if (isDatabaseUnavailable(error) && this.current === reservation) this.current = undefined;
      throw error;
    } finally {
      reservation.inFlight -= 1;
      if (reservation.inFlight === 0) {
        if (this.current === reservation) this.current = undefined;
        // After a close the driver has the connection back already, and release() leaves it be (.install/patch-postgres.mjs).
        reservation.connection.then((db) => db.release(), () => undefined);
      }
    }
  }
}
