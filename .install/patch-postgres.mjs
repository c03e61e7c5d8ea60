// Run by `npm install` / `npm ci` (package.json "postinstall"): makes postgres.js settle what a closed connection
// leaves behind, instead of ending the process or hanging the queries that come after.
//
// Why: when Postgres restarts or a backend is terminated under a transaction, postgres.js 3.4.9 rolls the
// transaction back on the connection that just closed, and two things go wrong (porsager/postgres#1066, #1154,
// #1208; fixes proposed upstream, none released):
//  - if the close came first, the rollback's write is deferred with setImmediate and then dereferences the socket
//    the close set to null: an uncaught TypeError that ends the process, API and worker alike;
//  - if the close came with a socket error, the queued rollback is never settled, and the failed query, its error,
//    the rollback's unsent bytes and a cancelled write timer stay on the connection: on the reconnected connection
//    the next query fails with the old error, or the start-up message is never sent (the stale timer looks
//    pending) and every query on that connection waits forever.
// The patch settles every query still on a connection when it closes (CONNECTION_CLOSED), starts its reconnection
// with nothing of the old one, settles a write made after the close the same way, and has a transaction whose
// connection closed send nothing more on it (its rollback went to the connection while it reconnected for another
// caller). test/db/connectionLoss.test.ts fails without the first three; the last was found by
// test/db/backendsTerminated.test.ts under load, where deliveries then stalled. And a reserved connection
// (db/connectionLane.ts) that closes ends its reservation cleanly: see reserveEdits below.
//
// It applies only to the exact code it was written for; any other driver version is left as it is, with a
// warning, and that test says whether the new version still needs it. Plain JavaScript, no dependencies: it runs
// under Node before anything else is set up.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const MARKER = "hookledger: a closed connection settles what it held";

const connectionEdits = [
  {
    original: `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)`,
    patched: `  function settleLost(err) { // ${MARKER} (porsager/postgres#1066, #1208)
    nextWriteTimer !== null && clearImmediate(nextWriteTimer)
    chunk = nextWriteTimer = null
    stream && (stream.destroy(err), stream = null)
    query && queryError(query, err)
    while (sent.length)
      queryError(sent.shift(), err)
    query = errorResponse = results = null
    result = new Result()
  }

  function nextWrite(fn) {
    if (!socket) {
      const err = Errors.connection('CONNECTION_CLOSED', options)
      settleLost(err)
      fn && fn(err)
      return true
    }
    const x = socket.write(chunk, fn)`,
  },
  {
    original: `    socket.removeAllListeners()
    socket = null

    if (initial)
      return reconnect()`,
    patched: `    socket.removeAllListeners()
    socket = null
    settleLost(Errors.connection('CONNECTION_CLOSED', options, socket))

    if (initial)
      return reconnect()`,
  },
];

// A transaction whose connection closed sends nothing more on it: its rollback (and any statement its callback
// still makes) fails with the close's error at once. Sent, they went to a connection that was already
// reconnecting for another caller, ahead of its start-up message, and could leave that caller waiting forever.
const transactionEdits = [
  {
    original: `      , prepare = null

    try {
      await sql.unsafe('begin '`,
    patched: `      , prepare = null
      , lost = null // the close that ended this transaction's connection (${MARKER})

    try {
      await sql.unsafe('begin '`,
  },
  {
    original: `        new Promise((_, reject) => connection.onclose = reject)`,
    patched: `        new Promise((_, reject) => connection.onclose = e => (lost = e || Errors.connection('CONNECTION_CLOSED', options), reject(lost)))`,
  },
  {
    original: `        q.catch(e => uncaughtError || (uncaughtError = e))
        c.queue === full`,
    patched: `        q.catch(e => uncaughtError || (uncaughtError = e))
        if (lost)
          return q.reject(lost)
        c.queue === full`,
  },
];

// A reservation ends when its connection closes: a statement sent on it afterwards fails at once (it went to the
// connection while it reconnected for another caller, ahead of its start-up message, as with transactions above),
// and a `release()` after the close leaves the connection where the close put it (it handed the pool a closed
// connection as if it were open, or, once the pool had reconnected it and someone reserved it again, ended that
// reservation). And a reservation waiting for a connection is not lost when the connection it would have had
// closes (porsager/postgres#1195): the close reconnected it for the first caller waiting, and for a reservation
// that reconnection never answered it (a reservation is answered only from the queue, which no longer held it),
// so it waited forever. It now stays queued, answered by that connection or the next one free. And statements a
// reservation held back while its connection was busy (after a statement that first asks for its parameter
// types, the next ones wait in the reservation's own queue) fail when the connection closes, instead of waiting
// for a connection that is gone.
// test/db/connectionLane.test.ts and test/db/backendsTerminated.test.ts fail without these.
const reserveEdits = [
  {
    original: `    c.reserved.release = true
`,
    patched: `    c.reserved.release = true
    c.reserved.lost = e => { while (queue.length) queue.shift().reject(e) } // (${MARKER})
`,
  },
  {
    original: `  function onclose(c, e) {
    move(c, closed)
    c.reserved = null`,
    patched: `  function onclose(c, e) {
    move(c, closed)
    c.reserved && c.reserved.lost && c.reserved.lost(e || Errors.connection('CONNECTION_CLOSED', options)) // (${MARKER})
    c.reserved = null`,
  },
  {
    original: `    options.onclose && options.onclose(c.id)
    queries.length && connect(c, queries.shift())
  }`,
    patched: `    options.onclose && options.onclose(c.id)
    if (queries.length) {
      const next = queries.shift()
      connect(c, next)
      next.reserve && queries.push(next) // answered by onopen, from the queue (${MARKER}, porsager/postgres#1195)
    }
  }`,
  },
  {
    original: `    function handler(q) {
      c.queue === full
        ? queue.push(q)`,
    patched: `    function handler(q) {
      if (c.reserved !== held) // the connection closed under this reservation (${MARKER})
        return q.reject(Errors.connection('CONNECTION_CLOSED', options))
      c.queue === full
        ? queue.push(q)`,
  },
  {
    original: `    const sql = Sql(handler)
    sql.release = () => {
      c.reserved = null
      onopen(c)
    }`,
    patched: `    const sql = Sql(handler)
      , held = c.reserved
    sql.release = () => {
      if (c.reserved !== held) // closed (or closed and reserved again) since: not this reservation's to end (${MARKER})
        return
      c.reserved = null
      onopen(c)
    }`,
  },
];

const driver = fileURLToPath(new URL("../node_modules/postgres/", import.meta.url));
const builds = ["src", "cjs/src", "cf/src"].flatMap((dir) => [
  { file: `${dir}/connection.js`, edits: connectionEdits },
  { file: `${dir}/index.js`, edits: [...transactionEdits, ...reserveEdits] },
]);

if (!existsSync(driver)) {
  console.warn("patch-postgres: node_modules/postgres is not installed; nothing to patch");
} else {
  for (const { file: build, edits } of builds) {
    const file = driver + build;
    if (!existsSync(file)) continue;
    const source = readFileSync(file, "utf8");
    // Edit by edit, so a tree patched by an earlier version of this script (`npm install` keeps the driver's
    // files) gets the edits added since.
    const pending = edits.filter(({ patched }) => !source.includes(patched));
    if (pending.length === 0) continue;
    if (!pending.every(({ original }) => source.split(original).length === 2)) {
      console.warn(`patch-postgres: ${build} is not the code this patch was written for (postgres 3.4.9); left unpatched — run test/db/connectionLoss.test.ts`);
      continue;
    }
    writeFileSync(file, pending.reduce((text, { original, patched }) => text.replace(original, patched), source));
    console.log(`patch-postgres: ${build} patched (${pending.length} of ${edits.length} edits)`);
  }
}
