/** The users page (admins) and the password page (everyone). */
import assert from "node:assert/strict";
import { harness, Jar, USER } from "./support.ts";

const NEW_PASSWORD = "uma senha nova e comprida";

Deno.test("users page: an admin adds a user, changes the role, resets the password, removes", async () => {
  const h = await harness();
  try {
    await h.login();
    const weak = await h.post("/users", {
      email: "caio@example.test",
      role: "operator",
      password: "123456789012",
    });
    assert.equal(weak.status, 422);
    assert.match(await weak.text(), /list of common passwords/);

    const added = await h.post("/users", {
      email: "caio@example.test",
      role: "operator",
      password: NEW_PASSWORD,
    });
    assert.equal(added.status, 303);
    const [caio] = await h.db.query<{ id: number; role: string }>(
      "SELECT id, role FROM users WHERE email = 'caio@example.test'",
    );
    assert.equal(caio.role, "operator");
    const page = await (await h.request("/users")).text();
    assert.match(page, /caio@example\.test/);

    assert.equal((await h.post(`/users/${caio.id}`, { role: "viewer" })).status, 303);
    const reset = await h.post(`/users/${caio.id}/password`, { password: "outra senha bem longa" });
    assert.equal(reset.status, 303);
    await h.login({ email: "caio@example.test", password: "outra senha bem longa" });
    assert.equal((await h.request("/users")).status, 403, "a viewer does not see the users");

    await h.login();
    const [me] = await h.db.query<{ id: number }>("SELECT id FROM users WHERE email = $1", [
      USER.email,
    ]);
    const alone = await h.post(`/users/${me.id}`, { disabled: "true" });
    assert.equal(alone.status, 409);
    assert.match(await alone.text(), /at least one active admin must remain/);
    assert.equal((await h.post(`/users/${caio.id}/remove`)).status, 303);
    assert.equal((await h.db.query("SELECT 1 FROM users")).length, 1);
  } finally {
    await h.close();
  }
});

Deno.test("password page: the current password first; other sessions end, this one goes on", async () => {
  const h = await harness();
  try {
    await h.login();
    const other = h.jar;
    await h.login();
    const wrong = await h.post("/password", {
      current: "not my password",
      password: NEW_PASSWORD,
      password_confirm: NEW_PASSWORD,
    });
    assert.equal(wrong.status, 422);
    assert.match(await wrong.text(), /current password|senha atual/i);
    const differ = await h.post("/password", {
      current: USER.password,
      password: NEW_PASSWORD,
      password_confirm: NEW_PASSWORD + "x",
    });
    assert.equal(differ.status, 422);

    const ok = await h.post("/password", {
      current: USER.password,
      password: NEW_PASSWORD,
      password_confirm: NEW_PASSWORD,
    });
    assert.equal(ok.status, 200);
    assert.equal((await h.request("/messages")).status, 200, "this session goes on");
    const mine = h.jar;
    h.jar = other;
    assert.equal((await h.request("/messages")).status, 302, "the other session ended");
    h.jar = mine;
    await h.login({ email: USER.email, password: NEW_PASSWORD });
    assert.ok(h.jar instanceof Jar);
    const [event] = await h.db.query<{ detail: { sessions_ended: number } }>(
      "SELECT detail FROM audit_events WHERE event = 'password_changed'",
    );
    assert.equal(event.detail.sessions_ended, 1);
  } finally {
    await h.close();
  }
});
