/**
 * `never-answer list | add | remove`: JSON on stdout, problems on stderr with exit 1, a malformed
 * command line exit 2; and the same commands through the command socket of a service that owns
 * the embedded database, as `deno task cli` runs them while the service runs.
 */
import assert from "node:assert/strict";
import { openTestStore, seedBoxAccount } from "../support/databases.ts";
import type { AdminIo } from "../../src/cli/admin_commands.ts";
import { neverAnswerCommand } from "../../src/cli/never_answer_commands.ts";
import { needsDatabase, USAGE } from "../../src/cli/run_cli.ts";
import { serveCommands } from "../../src/cli/command_line.ts";
import { forwardCommand } from "../../src/cli/command_socket_client.ts";
import { SOCKET_FILE } from "../../src/cli/command_socket_protocol.ts";
import { loadConfig } from "../../src/config.ts";
import { openServices } from "../../src/services.ts";
import { createLogger } from "../../src/log.ts";

function io() {
  const printed: unknown[] = [];
  const said: string[] = [];
  const value: AdminIo = {
    readLine: () => Promise.resolve(null),
    print: (d) => printed.push(d),
    say: (l) => said.push(l),
    now: () => new Date("2026-03-10T12:00:00Z"),
  };
  return { io: value, printed, said };
}

Deno.test("never-answer adds, lists and removes; problems on stderr, exit 1", async () => {
  const store = await openTestStore("pglite");
  try {
    const db = store.db;
    await seedBoxAccount(db);
    const run = async (...args: string[]) => {
      const r = io();
      const code = await neverAnswerCommand(db, args, r.io);
      return { code, printed: r.printed, said: r.said };
    };
    assert.deepEqual(await run("add", "*@Spam.test"), {
      code: 0,
      printed: [{ added: true, id: 1, pattern: "*@spam.test", account: null }],
      said: [],
    });
    assert.deepEqual((await run("add", "--account", "box", "chefe@empresa.test")).printed, [
      { added: true, id: 2, pattern: "chefe@empresa.test", account: "box" },
    ]);
    const listed = await run("list");
    assert.equal(listed.code, 0);
    assert.deepEqual(listed.printed, [[
      {
        id: 1,
        pattern: "*@spam.test",
        account_id: null,
        account: null,
        created_at: "2026-03-10T12:00:00.000Z",
        created_by: "cli",
      },
      {
        id: 2,
        pattern: "chefe@empresa.test",
        account_id: 1,
        account: "box",
        created_at: "2026-03-10T12:00:00.000Z",
        created_by: "cli",
      },
    ]]);

    const duplicate = await run("add", "*@SPAM.test");
    assert.equal(duplicate.code, 1);
    assert.deepEqual(duplicate.printed, []);
    assert.match(duplicate.said.join("\n"), /"\*@spam\.test" is already on the list/);
    const invalid = await run("add", "ana <ana@x.test>");
    assert.equal(invalid.code, 1);
    assert.match(invalid.said.join("\n"), /^pattern: is not an address glob/);
    const noAccount = await run("add", "x.test", "--account", "nobody");
    assert.equal(noAccount.code, 1);
    assert.match(noAccount.said.join("\n"), /no account is called "nobody"/);

    assert.deepEqual(await run("remove", "2"), {
      code: 0,
      printed: [{ removed: true, id: 2, pattern: "chefe@empresa.test" }],
      said: [],
    });
    const gone = await run("remove", "2");
    assert.equal(gone.code, 1);
    assert.match(gone.said.join("\n"), /no such never-answer entry/);

    for (
      const args of [
        [],
        ["add"],
        ["add", "a.test", "b.test"],
        ["add", "a.test", "--account"],
        ["remove"],
        ["remove", "x"],
        ["remove", "0"],
        ["list", "extra"],
        ["purge"],
      ]
    ) {
      const r = await run(...args);
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.said.join("\n"), /^usage: never-answer list/, args.join(" "));
    }
    assert.equal((await db.query("SELECT 1 FROM never_answer")).length, 1);
    assert.ok(needsDatabase(["never-answer", "list"]));
    assert.match(USAGE, /never-answer add PATTERN \[--account NAME\]/);
  } finally {
    await store.close();
  }
});

Deno.test("never-answer runs inside the service that owns the embedded database", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "carteiro-never-" });
  const loaded = loadConfig({ DATA_DIR: dataDir, PARSE_WORKERS: "0" });
  assert.ok(loaded.ok, JSON.stringify(loaded));
  const log = createLogger({ quiet: true });
  const services = await openServices(loaded.config, log);
  const commands = await serveCommands(services, dataDir, log);
  const cli = async (...args: string[]) => {
    const seen = { stdout: "", stderr: "" };
    const result = await forwardCommand(`${dataDir}/${SOCKET_FILE}`, { args, tty: false }, {
      stdout: (text) => Promise.resolve(void (seen.stdout += text)),
      stderr: (text) => Promise.resolve(void (seen.stderr += text)),
      readLine: () => Promise.resolve(null),
      readFile: () => Promise.reject(new Error("no files here")),
      createFile: () => Promise.reject(new Error("no files here")),
    });
    assert.ok(result.reached, `never-answer ${args.join(" ")} did not reach the service`);
    return { code: result.code, ...seen };
  };
  try {
    const added = await cli("never-answer", "add", "fornecedor.test");
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual(JSON.parse(added.stdout), {
      added: true,
      id: 1,
      pattern: "fornecedor.test",
      account: null,
    });
    const again = await cli("never-answer", "add", "FORNECEDOR.test");
    assert.deepEqual([again.code, again.stdout], [1, ""]);
    assert.match(again.stderr, /already on the list/);
    // The service sees the change at once: it is its own database.
    const listed = await cli("never-answer", "list");
    assert.deepEqual(JSON.parse(listed.stdout).map((e: { pattern: string }) => e.pattern), [
      "fornecedor.test",
    ]);
    const [event] = await services.db.query<{ event: string }>(
      "SELECT event FROM audit_events WHERE event LIKE 'never_answer%'",
    );
    assert.deepEqual(event, { event: "never_answer_added" });
  } finally {
    await commands.close();
    await services.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
