import { PGlite, types } from "@electric-sql/pglite";
import type { Db, LockOutcome, Queryable, Row } from "./db.ts";
import { type DataDirHolder, type DataDirLock, lockDataDir } from "./data_dir_lock.ts";
import { type ExternalMemoryGuard, externalMemoryGuard } from "../external_memory_guard.ts";

/** The embedded database: the `Db` interface, and what only PGlite can do. */
export interface PgliteStore extends Db {
  readonly kind: "pglite";
  /**
   * A plain-SQL dump of the whole database (pg_dump's own output, `--inserts`, without owners or
   * privileges) that `psql` loads into an empty PostgreSQL. Other statements wait meanwhile.
   */
  dump(): Promise<string>;
}

/**
 * Opens the embedded PostgreSQL (PGlite, PostgreSQL compiled to WebAssembly). With `dataDir` the
 * database lives in that folder, which this process then owns: it takes the folder's lock first
 * (src/store/data_dir_lock.ts) and throws `DataDirBusyError` naming the holder when another
 * process has it. Without `dataDir` the database lives in memory (tests).
 */
export async function openPglite(
  dataDir?: string,
  owner?: Omit<DataDirHolder, "since"> & { since: Date },
): Promise<PgliteStore> {
  let lock: DataDirLock | null = null;
  if (dataDir) {
    lock = await lockDataDir(
      dataDir,
      owner ?? {
        pid: Deno.pid,
        role: "cli",
        command: "carteiro",
        since: new Date(),
      },
    );
  }
  try {
    const fresh = !dataDir || !await isFile(`${dataDir}/PG_VERSION`);
    const pg = new PGlite({
      dataDir,
      startParams: START_PARAMS,
      loadDataDir: fresh ? new Blob([await Deno.readFile(CLUSTER_TEMPLATE)]) : undefined,
    });
    await pg.waitReady;
    return new PgliteDb(pg, lock);
  } catch (e) {
    lock?.release();
    throw e;
  }
}

/**
 * The server's memory settings, for a process that is also the service. PGlite touches all of its
 * shared memory when it starts, so PostgreSQL's default `shared_buffers` of 128 MB is 128 MB of
 * resident memory before the first query (measured: 288 MB at open, 165 MB with 16 MB; see
 * bench/RESULTS.md). The database is one session in one process: a small buffer pool only means
 * more reads through the operating system's file cache, which keeps the pages anyway.
 * `maintenance_work_mem` bounds index builds and VACUUM, `max_connections` the per-backend
 * arrays in shared memory (PGlite has one backend).
 */
const MEMORY_SETTINGS = [
  "shared_buffers=16MB",
  "maintenance_work_mem=16MB",
  "max_connections=8",
];

/**
 * PGlite's own start parameters (its `defaultStartParams`, 0.5.17), two WAL settings and the
 * settings above. PGlite runs with fsync off (`-F`), so its files are as safe as the operating
 * system's cache: a killed process loses nothing, a power cut may. Under that, neither a full
 * page image in the WAL after each checkpoint (against pages torn by a power cut) nor zeroing each
 * new 16 MB WAL file ahead buys anything; both are writes through PGlite's emulated file system.
 * Measured at 10,000 messages, four runs each: 230 against 220 msg/s at the median, 4.7–5.4
 * against 4.9–6.6 ms of CPU a message (bench/RESULTS.md).
 */
const START_PARAMS = [
  "--single",
  "-F",
  "-O",
  "-j",
  "-c",
  "search_path=public",
  "-c",
  "exit_on_error=false",
  "-c",
  "log_checkpoints=false",
  "-c",
  "max_worker_processes=0",
  "-c",
  "max_parallel_workers=0",
  "-c",
  "max_parallel_workers_per_gather=0",
  "-c",
  "io_method=sync",
  "-c",
  "max_parallel_maintenance_workers=0",
  "-c",
  "wal_init_zero=off",
  "-c",
  "full_page_writes=off",
  ...MEMORY_SETTINGS.flatMap((s) => ["-c", s]),
];

/** initdb writes the same settings into a new data folder's postgresql.conf. */
const INITDB_PARAMS = MEMORY_SETTINGS.flatMap((s) => ["-c", s]);

/**
 * A new database starts as a copy of this cluster, which `makeClusterTemplate` made (regenerate
 * it with `deno run -A scripts/pglite_template.ts` when PGlite changes; a test compares it with a
 * fresh initdb). PGlite's own initdb runs a second PGlite instance and copies that instance's
 * whole 128 MB heap to restore it before each backend run, then moves the cluster through a tar in
 * memory: opening a new folder peaked at 570–660 MB (an existing one: 165 MB) and took 20–60 s.
 * Unpacking the 4.5 MB template instead peaks at 280 MB and takes 2 s. Every install so started
 * shares the template's system identifier, which only replication reads.
 */
const CLUSTER_TEMPLATE = new URL("./pglite_cluster.tar.gz", import.meta.url);

/** A new cluster made by PGlite's initdb with our settings, as a gzipped tar (the template). */
export async function makeClusterTemplate(): Promise<Uint8Array<ArrayBuffer>> {
  const pg = new PGlite({ startParams: START_PARAMS, initDbStartParams: INITDB_PARAMS });
  try {
    await pg.waitReady;
    return new Uint8Array(await (await pg.dumpDataDir("gzip")).arrayBuffer());
  } finally {
    await pg.close();
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Statements run shared; a dump runs alone. pg_dump talks to PGlite below its query queue, so
 * it must not start while one of our transactions is open, nor let one begin until it is done.
 */
class Gate {
  #active = 0;
  #alone: Promise<void> | null = null;
  #drained: (() => void) | null = null;

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#alone) await this.#alone;
    this.#active++;
    try {
      return await fn();
    } finally {
      this.#active--;
      if (this.#active === 0) this.#drained?.();
    }
  }

  async alone<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#alone) await this.#alone;
    let open!: () => void;
    this.#alone = new Promise<void>((resolve) => open = resolve);
    try {
      if (this.#active > 0) await new Promise<void>((resolve) => this.#drained = resolve);
      this.#drained = null;
      return await fn();
    } finally {
      this.#alone = null;
      open();
    }
  }
}

/**
 * A bytea parameter given as a `Uint8Array` is handed to PGlite as it is, which sends it in the
 * protocol's binary format: the server copies it. PGlite's own serializer writes it as hex text,
 * twice its size, which its protocol writer then measures and encodes a character at a time and
 * the server decodes: for a 33 KB message, 66 KB of text three times over.
 */
const BYTES_AS_THEY_ARE = {
  serializers: { [types.BYTEA]: (value: unknown) => value as string },
};

class PgliteDb implements PgliteStore {
  readonly kind = "pglite" as const;
  #pg: PGlite;
  #lock: DataDirLock | null;
  #gate = new Gate();
  // The server runs in this process: its statements' garbage is this process's memory.
  #memory: ExternalMemoryGuard = externalMemoryGuard();
  // PGlite is one session, in which advisory locks are re-entrant: holders inside this process
  // are tracked here so that a second taker sees the lock as held, as it would on a server.
  #held = new Set<string>();
  #waiters = new Map<string, Array<() => void>>();

  constructor(pg: PGlite, lock: DataDirLock | null) {
    this.#pg = pg;
    this.#lock = lock;
  }

  readonly bytes = "binary" as const;

  query<T extends Row = Row>(text: string, params: unknown[] = []): Promise<T[]> {
    return this.#shared(async () =>
      (await this.#pg.query<T>(text, params, BYTES_AS_THEY_ARE)).rows
    );
  }

  exec(script: string): Promise<void> {
    return this.#shared(async () => void await this.#pg.exec(script));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const memory = this.#memory;
    return this.#shared(() =>
      this.#pg.transaction(async (tx) => {
        const q: Queryable = {
          bytes: "binary",
          async query<R extends Row = Row>(text: string, params: unknown[] = []) {
            try {
              return (await tx.query<R>(text, params, BYTES_AS_THEY_ARE)).rows;
            } finally {
              memory.check();
            }
          },
        };
        return await fn(q);
      })
    );
  }

  async #shared<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.#gate.shared(fn);
    } finally {
      this.#memory.check();
    }
  }

  dump(): Promise<string> {
    return this.#gate.alone(async () => {
      const { pgDump } = await import("@electric-sql/pglite-tools/pg_dump");
      try {
        const file = await pgDump({ pg: this.#pg, args: ["--no-owner", "--no-privileges"] });
        return forOlderServers(await file.text());
      } finally {
        // pg_dump ends without closing its session, and PGlite's session is ours: it leaves its
        // read-only REPEATABLE READ transaction open and its settings (row_security off,
        // extra_float_digits 3, …) in place. Without this the next write fails as read-only.
        if (this.#pg.isInTransaction()) await this.#pg.exec("ROLLBACK");
        await this.#pg.exec("RESET ALL");
      }
    });
  }

  async tryWithLock<T>(
    namespace: number,
    key: number,
    fn: () => Promise<T>,
  ): Promise<LockOutcome<T>> {
    const id = `${namespace}:${key}`;
    if (this.#held.has(id)) return { acquired: false };
    this.#held.add(id);
    try {
      return { acquired: true, value: await fn() };
    } finally {
      this.#release(id);
    }
  }

  async withLock<T>(namespace: number, key: number, fn: () => Promise<T>): Promise<T> {
    const id = `${namespace}:${key}`;
    while (this.#held.has(id)) {
      await new Promise<void>((resolve) => {
        const list = this.#waiters.get(id) ?? [];
        list.push(resolve);
        this.#waiters.set(id, list);
      });
    }
    this.#held.add(id);
    try {
      return await fn();
    } finally {
      this.#release(id);
    }
  }

  #release(id: string) {
    this.#held.delete(id);
    const list = this.#waiters.get(id);
    this.#waiters.delete(id);
    for (const wake of list ?? []) wake();
  }

  async close(): Promise<void> {
    try {
      await this.#pg.close();
    } finally {
      this.#lock?.release();
      this.#lock = null;
    }
  }
}

/**
 * What a PostgreSQL server cannot load: pg_dump 18 sets `transaction_timeout`, unknown before
 * PostgreSQL 17 (its value, 0, is the default everywhere), and PGlite's pg_dump writes its own
 * column attribute `pg_attver`, which servers refuse ("unrecognized parameter") and do not need.
 */
function forOlderServers(sql: string): string {
  return sql.replace(/^SET transaction_timeout = 0;\n/m, "")
    .replace(/^ALTER TABLE ONLY \S+ ALTER COLUMN \S+ SET \(pg_attver=\d+\);\n/gm, "");
}
