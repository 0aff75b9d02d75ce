/**
 * `account list | add | disable | enable | delete`: JSON on stdout, passwords from stdin only,
 * problems on stderr with exit 1, a malformed command line exit 2.
 */
import assert from "node:assert/strict";
import { openTestStore, seedBoxAccount } from "../support/databases.ts";
import type { AdminIo } from "../../src/cli/admin_commands.ts";
import { accountCommand } from "../../src/cli/limits_commands.ts";
import { createSecretBox } from "../../src/auth/secret_box.ts";
import type { Db } from "../../src/store/db.ts";

const NOW = new Date("2026-03-10T12:00:00Z");
const box = createSecretBox("a-very-long-secret-key-for-tests");

function runner(db: Db) {
  return async (stdin: string[], ...args: string[]) => {
    const printed: unknown[] = [];
    const said: string[] = [];
    const lines = [...stdin];
    const io: AdminIo = {
      readLine: () => Promise.resolve(lines.shift() ?? null),
      print: (d) => printed.push(d),
      say: (l) => said.push(l),
      now: () => NOW,
    };
    const code = await accountCommand(db, args, io, box);
    return { code, printed, said, unread: lines };
  };
}

const LOJA = JSON.stringify({
  name: "loja",
  address: "loja@empresa.test",
  enabled: true,
  imap_host: "127.0.0.1",
  imap_port: 993,
  imap_tls: true,
  imap_user: "loja",
  mailboxes: ["INBOX"],
  smtp_host: "127.0.0.1",
  smtp_port: 465,
  smtp_tls: true,
  smtp_user: "loja",
});

Deno.test("account add (passwords on stdin), list, disable, enable, delete", async () => {
  const store = await openTestStore("pglite");
  try {
    const db = store.db;
    await seedBoxAccount(db);
    const run = runner(db);

    const added = await run(
      ["imap-secret", "smtp-secret"],
      "add",
      LOJA,
      "--imap-password",
      "--smtp-password",
    );
    assert.equal(added.code, 0, added.said.join("\n"));
    const a = added.printed[0] as Record<string, unknown>;
    assert.deepEqual([a.name, a.imap_password_set, a.smtp_password_set], ["loja", true, true]);
    assert.equal(a.max_message_mb, 50, "the largest message collected whole: 50 MB by default");
    const tooSmall = await run(
      [],
      "add",
      JSON.stringify({ ...JSON.parse(LOJA), name: "loja-2", max_message_mb: 0 }),
    );
    assert.equal(tooSmall.code, 1);
    assert.match(tooSmall.said.join("\n"), /max_message_mb: blank, or a whole number of MB from 1/);
    assert.deepEqual(added.unread, []);
    const [enc] = await db.query<{ imap_pass_enc: string }>(
      "SELECT imap_pass_enc FROM accounts WHERE name = 'loja'",
    );
    assert.ok(!enc.imap_pass_enc.includes("imap-secret"), "stored encrypted");

    const inArgv = await run([], "add", JSON.stringify({ ...JSON.parse(LOJA), imap_pass: "x" }));
    assert.equal(inArgv.code, 1);
    assert.match(inArgv.said.join("\n"), /stdin/);
    const bad = await run(
      [],
      "add",
      JSON.stringify({ ...JSON.parse(LOJA), name: "b", imap_port: 0 }),
    );
    assert.equal(bad.code, 1);
    assert.match(bad.said.join("\n"), /imap_port/);
    assert.equal((await run([], "add", "{nope")).code, 1);

    const list = await run([], "list");
    assert.equal(list.code, 0);
    assert.deepEqual((list.printed[0] as { name: string }[]).map((r) => r.name), ["box", "loja"]);
    assert.equal(JSON.stringify(list.printed).includes("secret"), false);

    const off = await run([], "disable", "loja");
    assert.equal((off.printed[0] as { enabled: boolean }).enabled, false);
    const on = await run([], "enable", "loja");
    assert.equal((on.printed[0] as { enabled: boolean }).enabled, true);

    assert.equal((await run([], "delete", "loja")).code, 2, "a choice is required");
    assert.equal((await run([], "delete", "loja", "--all")).code, 2);
    const env = await run([], "delete", "box", "--erase");
    assert.equal(env.code, 1);
    assert.match(env.said.join("\n"), /environment/);
    assert.equal((await run([], "delete", "nobody", "--keep")).code, 1);
    const deleted = await run([], "delete", "loja", "--keep");
    assert.equal(deleted.code, 0, deleted.said.join("\n"));
    assert.deepEqual(deleted.printed[0], {
      deleted: "loja",
      messages: "keep",
      message_count: 0,
      replies_cancelled: 0,
    });
    const after = await run([], "list");
    assert.deepEqual((after.printed[0] as { name: string }[]).map((r) => r.name), ["box"]);

    // The older subcommands still answer.
    assert.equal((await run([], "settings", "box")).code, 0);
    assert.equal((await run([], "frobnicate")).code, 2);
  } finally {
    await store.close();
  }
});

Deno.test("account add --imap-tls / --smtp-tls: a mode each, plain to loopback only", async () => {
  const store = await openTestStore("pglite");
  try {
    const db = store.db;
    const run = runner(db);
    const local = JSON.stringify({ ...JSON.parse(LOJA), name: "local", smtp_port: 1025 });
    const added = await run(
      ["s"],
      "add",
      local,
      "--imap-password",
      "--imap-tls",
      "plain",
      "--smtp-tls=plain",
    );
    assert.equal(added.code, 0, added.said.join("\n"));
    const a = added.printed[0] as { imap: { tls: string }; smtp: { tls: string } };
    assert.deepEqual([a.imap.tls, a.smtp.tls], ["plain", "plain"]);

    // The JSON's field works too; the flag goes over it.
    const named = JSON.stringify({
      ...JSON.parse(LOJA),
      name: "remoto",
      imap_host: "imap.empresa.test",
      imap_tls: "plain",
      smtp_host: "smtp.empresa.test",
      smtp_port: 587,
      smtp_tls: "starttls",
    });
    const refused = await run(["s"], "add", named, "--imap-password");
    assert.equal(refused.code, 1);
    assert.match(
      refused.said.join("\n"),
      /imap_tls: plain .*only to a loopback host.*imap\.empresa\.test/,
    );
    const fixed = await run(["s"], "add", named, "--imap-password", "--imap-tls", "starttls");
    assert.equal(fixed.code, 0, fixed.said.join("\n"));
    const f = fixed.printed[0] as { imap: { tls: string }; smtp: { tls: string } };
    assert.deepEqual([f.imap.tls, f.smtp.tls], ["starttls", "starttls"]);

    assert.equal((await run([], "add", named, "--imap-tls")).code, 2, "a flag without its mode");
    const unknown = await run(["s"], "add", named, "--imap-password", "--smtp-tls", "ssl");
    assert.equal(unknown.code, 1);
    assert.match(unknown.said.join("\n"), /smtp_tls: one of tls, starttls, plain/);
  } finally {
    await store.close();
  }
});
