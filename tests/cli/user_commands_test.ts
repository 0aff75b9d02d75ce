import assert from "node:assert/strict";
import { openTestStore } from "../support/databases.ts";
import type { AdminIo } from "../../src/cli/admin_commands.ts";
import { userCommand } from "../../src/cli/user_commands.ts";
import { findUserForLogin } from "../../src/store/users.ts";
import { verifyPassword } from "../../src/auth/password_hash.ts";

function io(lines: string[] = []) {
  const printed: Record<string, unknown>[] = [];
  const said: string[] = [];
  const value: AdminIo = {
    readLine: () => Promise.resolve(lines.shift() ?? null),
    print: (d) => printed.push(d as Record<string, unknown>),
    say: (l) => said.push(l),
    now: () => new Date("2026-12-06T10:00:00Z"),
  };
  return { io: value, printed, said };
}

const GOOD = "uma frase longa de senha";

Deno.test("user list|add|role|disable|enable|passwd|remove, audited with before and after", async () => {
  const store = await openTestStore("pglite");
  const db = store.db;
  try {
    const first = io([GOOD]);
    assert.equal(
      await userCommand(db, ["add", "ana@example.test", "--role", "viewer"], first.io),
      2,
    );
    assert.match(first.said.join("\n"), /the first user must be an admin/);
    assert.equal(await userCommand(db, ["add", "ana@example.test"], io([GOOD]).io), 0);
    const bia = io([GOOD]);
    assert.equal(await userCommand(db, ["add", "bia@example.test", "--role", "viewer"], bia.io), 0);
    assert.equal(bia.printed[0].role, "viewer");
    assert.equal(bia.printed[0].created, true);

    const list = io();
    assert.equal(await userCommand(db, ["list"], list.io), 0);
    assert.deepEqual(
      (list.printed[0] as unknown as { email: string; role: string }[]).map((
        u,
      ) => [u.email, u.role]),
      [["ana@example.test", "admin"], ["bia@example.test", "viewer"]],
    );

    assert.equal(await userCommand(db, ["role", "bia@example.test", "operator"], io().io), 0);
    const bad = io();
    assert.equal(await userCommand(db, ["role", "bia@example.test", "chefe"], bad.io), 1);
    assert.match(bad.said.join("\n"), /role: one of admin, operator, viewer/);

    assert.equal(await userCommand(db, ["disable", "bia@example.test"], io().io), 0);
    assert.equal(
      await findUserForLogin(db, "bia@example.test"),
      null,
      "a disabled user can't log in",
    );
    assert.equal(await userCommand(db, ["enable", "bia@example.test"], io().io), 0);
    assert.ok(await findUserForLogin(db, "bia@example.test"));

    const weak = io(["password1234"]);
    assert.equal(await userCommand(db, ["passwd", "bia@example.test"], weak.io), 1);
    assert.match(weak.said.join("\n"), /list of common passwords/);
    const same = io(["aaaaaaaaaaaaaaaa"]);
    assert.equal(await userCommand(db, ["passwd", "bia@example.test"], same.io), 1);
    assert.match(same.said.join("\n"), /one character repeated/);
    const newPassword = "outra frase longa de senha";
    assert.equal(await userCommand(db, ["passwd", "bia@example.test"], io([newPassword]).io), 0);
    const bia2 = await findUserForLogin(db, "bia@example.test");
    assert.ok(bia2 && await verifyPassword(newPassword, bia2.passwordHash));

    // The last active admin stays.
    for (
      const args of [["disable", "ana@example.test"], ["role", "ana@example.test", "viewer"], [
        "remove",
        "ana@example.test",
      ]]
    ) {
      const refused = io();
      assert.equal(await userCommand(db, args, refused.io), 1, args.join(" "));
      assert.match(refused.said.join("\n"), /at least one active admin must remain/);
    }
    assert.equal(await userCommand(db, ["remove", "bia@example.test"], io().io), 0);
    assert.equal(await userCommand(db, ["remove", "bia@example.test"], io().io), 1);
    assert.equal(await userCommand(db, ["frobnicate"], io().io), 2);
    assert.equal(await userCommand(db, ["add", "not-an-email"], io([GOOD]).io), 2);

    const events = await db.query<{ event: string; detail: Record<string, unknown> }>(
      "SELECT event, detail FROM audit_events WHERE event LIKE 'user_%' OR event = 'password_changed' ORDER BY id",
    );
    assert.deepEqual(events.map((e) => e.event), [
      "user_created",
      "user_created",
      "user_changed",
      "user_changed",
      "user_changed",
      "password_changed",
      "user_removed",
    ]);
    assert.deepEqual(events[2].detail, {
      email: "bia@example.test",
      by: "cli",
      before: { role: "viewer", disabled: false },
      after: { role: "operator", disabled: false },
    });
  } finally {
    await store.close();
  }
});
