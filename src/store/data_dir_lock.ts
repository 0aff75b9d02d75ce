/**
 * One owner per embedded-database folder. The process that opens PGlite in `DATA_DIR` holds an
 * exclusive OS lock (flock) on `DATA_DIR/carteiro.lock` for as long as it keeps the files open;
 * the operating system releases it when the process ends, however it ends, so a killed owner
 * never blocks the next start. The lock file also says who holds it, for the message a second
 * process prints.
 */

/** The file whose lock is the ownership, inside the data folder. */
export const LOCK_FILE = "carteiro.lock";

/** Who holds a data folder: written into the lock file by its owner. */
export interface DataDirHolder {
  pid: number;
  /** What the owner is: the service, or one CLI command. */
  role: "service" | "cli";
  /** The command line a person would recognise (e.g. `deno task start`). */
  command: string;
  /** ISO 8601 time the owner took the folder. */
  since: string;
}

/** A held lock; `release` unlocks and closes the file (the process's end does the same). */
export interface DataDirLock {
  readonly dir: string;
  release(): void;
}

/** Another process holds the folder. `holder` is null when it has not written its name yet. */
export class DataDirBusyError extends Error {
  override name = "DataDirBusyError";
  readonly dir: string;
  readonly holder: DataDirHolder | null;

  constructor(dir: string, holder: DataDirHolder | null) {
    super(`the embedded database in ${dir} is in use by ${describeHolder(holder)}`);
    this.dir = dir;
    this.holder = holder;
  }
}

/** "pid 1234 (deno task start, since 2026-12-06T10:00:00Z)", or what is known of it. */
export function describeHolder(holder: DataDirHolder | null): string {
  if (!holder) return "another process (it has not said which yet)";
  return `pid ${holder.pid} (${holder.command}, since ${holder.since})`;
}

/**
 * Takes the folder's lock without waiting: resolves to the held lock, or throws
 * `DataDirBusyError` naming the holder. Creates the folder (mode 0700) when it is missing.
 */
export async function lockDataDir(
  dir: string,
  me: Omit<DataDirHolder, "since"> & { since: Date },
): Promise<DataDirLock> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const path = `${dir}/${LOCK_FILE}`;
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let locked: boolean;
  try {
    locked = await file.tryLock(true);
  } catch (cause) {
    file.close();
    throw new Error(`cannot lock ${path}`, { cause });
  }
  if (!locked) {
    file.close();
    throw new DataDirBusyError(dir, await readHolder(dir));
  }
  const holder: DataDirHolder = { ...me, since: me.since.toISOString() };
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${JSON.stringify(holder)}\n`));
  let released = false;
  return {
    dir,
    release() {
      if (released) return;
      released = true;
      file.close();
    },
  };
}

/** What the lock file says of its holder; null when it is empty, unreadable or not ours. */
export async function readHolder(dir: string): Promise<DataDirHolder | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${LOCK_FILE}`);
  } catch {
    return null;
  }
  try {
    const h = JSON.parse(text);
    if (
      typeof h?.pid === "number" && (h.role === "service" || h.role === "cli") &&
      typeof h.command === "string" && typeof h.since === "string"
    ) {
      return { pid: h.pid, role: h.role, command: h.command, since: h.since };
    }
  } catch {
    // Written halfway, or by something else: the holder is unknown.
  }
  return null;
}
