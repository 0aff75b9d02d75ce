/**
 * `export`: the message list's filters to a file as mbox, zip or CSV, the outbox as CSV;
 * malformed command lines exit 2; and the same command through the command socket of a service
 * that owns the embedded database, the file written by the client.
 */
import assert from "node:assert/strict";
import { unzipSync } from "fflate";
import { openTestStore, seedBoxAccount } from "../support/databases.ts";
import { eml, seedMessage } from "../routes/support.ts";
import { exportCommand } from "../../src/cli/export_commands.ts";
import { createLocalFile } from "../../src/cli/cli_io.ts";
import { readMboxrd } from "../../src/domain/mbox.ts";
import { serveCommands } from "../../src/cli/command_line.ts";
import { forwardCommand } from "../../src/cli/command_socket_client.ts";
import { SOCKET_FILE } from "../../src/cli/command_socket_protocol.ts";
import { loadConfig } from "../../src/config.ts";
import { openServices } from "../../src/services.ts";
import { createLogger } from "../../src/log.ts";
import type { Db } from "../../src/store/db.ts";

const NOW = new Date("2026-03-10T12:00:00Z");

function io() {
  const printed: unknown[] = [];
  const said: string[] = [];
  return {
    io: {
      print: (d: unknown) => printed.push(d),
      say: (l: string) => said.push(l),
      createFile: createLocalFile,
    },
    printed,
    said,
  };
}

async function seed(db: Db) {
  const a = eml({ subject: "Pedido", text: "From the start\r\nok" });
  const b = eml({ subject: "Encaminhada", from: "bob@fornecedor.test" });
  await seedMessage(db, a, {
    receivedAt: new Date("2026-03-01T09:00:00Z"),
    decision: { outcome: "reply", ruleName: "ack", reason: null, detail: null, trail: [] },
    outbox: { status: "sent" },
  });
  await seedMessage(db, b, {
    receivedAt: new Date("2026-03-05T09:00:00Z"),
    kind: "forwarded",
  });
  return { a, b };
}

Deno.test("export writes mbox, zip and CSV files with the list's filters; exit 2 on a bad line", async () => {
  const store = await openTestStore("pglite");
  const dir = await Deno.makeTempDir({ prefix: "carteiro-export-" });
  try {
    const db = store.db;
    await seedBoxAccount(db);
    const { a, b } = await seed(db);
    const deps = { db, now: () => NOW };
    const run = async (...args: string[]) => {
      const r = io();
      const code = await exportCommand(deps, args, r.io);
      return { code, printed: r.printed, said: r.said };
    };
    const mbox = await run("--format", "mbox", "--out", `${dir}/all.mbox`);
    assert.equal(mbox.code, 0, mbox.said.join("\n"));
    const file = await Deno.readFile(`${dir}/all.mbox`);
    assert.deepEqual(mbox.printed, [
      { exported: "messages", format: "mbox", file: `${dir}/all.mbox`, bytes: file.length },
    ]);
    assert.equal((await Deno.stat(`${dir}/all.mbox`)).mode! & 0o777, 0o600);
    assert.deepEqual(readMboxrd(file), [b, a]);

    assert.equal(
      (await run(
        "--format",
        "zip",
        "--kind",
        "direct",
        "--account",
        "box",
        "--out",
        `${dir}/d.zip`,
      )).code,
      0,
    );
    assert.deepEqual(Object.values(unzipSync(await Deno.readFile(`${dir}/d.zip`))), [a]);

    assert.equal(
      (await run("--format", "csv", "--since", "2026-03-02", "--out", `${dir}/m.csv`)).code,
      0,
    );
    const csv = (await Deno.readTextFile(`${dir}/m.csv`)).split("\r\n");
    assert.equal(csv.length, 3);
    assert.match(csv[1], /,Encaminhada,forwarded,/);

    assert.equal(
      (await run("--outbox", "--format", "csv", "--status", "sent", "--out", `${dir}/o.csv`)).code,
      0,
    );
    assert.equal((await Deno.readTextFile(`${dir}/o.csv`)).split("\r\n").length, 3);

    const bad = await run("--format", "pdf", "--kind", "both", "--until", "2026-02-31");
    assert.equal(bad.code, 2);
    assert.deepEqual(bad.said.slice(0, 4), [
      "--format: one of mbox, zip, csv",
      "--out: the file to write",
      "--kind: one of forwarded, direct",
      "--until: a date, YYYY-MM-DD",
    ]);
    assert.equal((await run("--format", "csv", "--account", "nobody", "--out", "x")).code, 2);
    assert.equal((await run("--outbox", "--format", "mbox", "--out", "x")).code, 2);
    assert.equal((await run("--format", "mbox", "--bogus")).code, 2);
    const unwritable = await run("--format", "mbox", "--out", `${dir}/no/such/dir.mbox`);
    assert.equal(unwritable.code, 1);
    assert.match(unwritable.said[0], /cannot be written/);

    const events = await db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'exported' ORDER BY id",
    );
    assert.deepEqual(events.map((e) => e.detail), [
      { by: "cli", what: "messages", format: "mbox", filter: {}, count: 2, complete: true },
      {
        by: "cli",
        what: "messages",
        format: "zip",
        filter: { account: "1", kind: "direct" },
        count: 1,
        complete: true,
      },
      {
        by: "cli",
        what: "messages",
        format: "csv",
        filter: { since: "2026-03-02" },
        count: 1,
        complete: true,
      },
      {
        by: "cli",
        what: "outbox",
        format: "csv",
        filter: { status: "sent" },
        count: 1,
        complete: true,
      },
    ]);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export through the command socket: the client writes the file, byte for byte", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "carteiro-exp-" });
  const loaded = loadConfig({ DATA_DIR: dataDir, PARSE_WORKERS: "0" });
  assert.ok(loaded.ok, JSON.stringify(loaded));
  const log = createLogger({ quiet: true });
  const services = await openServices(loaded.config, log);
  const commands = await serveCommands(services, dataDir, log);
  try {
    await seedBoxAccount(services.db);
    const { a, b } = await seed(services.db);
    const seen = { stdout: "", stderr: "" };
    const out = `${dataDir}/client.mbox`;
    const result = await forwardCommand(`${dataDir}/${SOCKET_FILE}`, {
      args: ["export", "--format", "mbox", "--out", out],
      tty: false,
    }, {
      stdout: (text) => Promise.resolve(void (seen.stdout += text)),
      stderr: (text) => Promise.resolve(void (seen.stderr += text)),
      readLine: () => Promise.resolve(null),
      readFile: () => Promise.reject(new Error("no files here")),
      createFile: createLocalFile,
    });
    assert.deepEqual(result, { reached: true, code: 0 }, seen.stderr);
    assert.deepEqual(readMboxrd(await Deno.readFile(out)), [b, a]);
    assert.equal(JSON.parse(seen.stdout).file, out);
  } finally {
    await commands.close();
    await services.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
