/**
 * One owner per embedded-database folder, across real processes: a second opener is refused with
 * the holder named, and a holder killed with SIGKILL leaves nothing that blocks the next one.
 */
import assert from "node:assert/strict";
import { DataDirBusyError, lockDataDir, readHolder } from "../../src/store/data_dir_lock.ts";
import { openPglite } from "../../src/store/pglite_db.ts";

const LOCK_MODULE = new URL("../../src/store/data_dir_lock.ts", import.meta.url).href;

/** A process that takes the folder's lock, says so, and waits to be killed. */
async function holderProcess(dir: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { lockDataDir } from ${JSON.stringify(LOCK_MODULE)};
       await lockDataDir(${JSON.stringify(dir)}, {
         pid: Deno.pid, role: "service", command: "deno task start", since: new Date(),
       });
       console.log("locked");
       setInterval(() => {}, 1000);`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  while (!said.includes("locked")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the holder process ended before locking: ${said}`);
    said += value;
  }
  reader.releaseLock();
  return child;
}

Deno.test("a second owner is refused with the holder named; a killed holder frees the folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "carteiro-lock-" });
  const child = await holderProcess(dir);
  try {
    const me = { pid: Deno.pid, role: "cli" as const, command: "test", since: new Date() };
    const refused = await lockDataDir(dir, me).then(
      () => null,
      (e) => e,
    );
    assert.ok(refused instanceof DataDirBusyError, String(refused));
    assert.equal(refused.holder?.pid, child.pid);
    assert.equal(refused.holder?.role, "service");
    assert.match(refused.message, new RegExp(`pid ${child.pid} \\(deno task start, since `));
    // Opening the database itself is refused the same way, before any file is touched.
    await assert.rejects(openPglite(dir, me), DataDirBusyError);

    child.kill("SIGKILL");
    await child.status;
    // The operating system released the lock with the process: no waiting, no clean-up.
    const lock = await lockDataDir(dir, me);
    assert.equal((await readHolder(dir))?.pid, Deno.pid);
    lock.release();
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.stdout.cancel().catch(() => {});
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the folder is made private and the lock is given back on close", async () => {
  const parent = await Deno.makeTempDir({ prefix: "carteiro-lock-" });
  const dir = `${parent}/data`;
  try {
    const me = { pid: Deno.pid, role: "cli" as const, command: "test", since: new Date() };
    const db = await openPglite(dir, me);
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    await assert.rejects(lockDataDir(dir, me), DataDirBusyError);
    await db.query("SELECT 1");
    await db.close();
    const again = await openPglite(dir, me);
    await again.close();
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
