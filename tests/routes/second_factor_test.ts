/**
 * The second factor at login (TOTP and recovery codes) through the pages: turning it on from
 * /security, logging in with a code or a recovery code, wrong codes throttled, codes taken once,
 * turning it off (own page with the password, an admin on /users, the CLI).
 */
import assert from "node:assert/strict";
import * as OTPAuth from "otpauth";
import { csrfFrom, type Harness, harness, Jar, USER } from "./support.ts";
import { userCommand } from "../../src/cli/user_commands.ts";
import type { AdminIo } from "../../src/cli/admin_commands.ts";
import { hashPassword } from "../../src/auth/password_hash.ts";
import { createUser } from "../../src/store/users.ts";

function codeAt(secret: string, at: Date): string {
  return new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(secret),
    algorithm: "SHA1",
    digits: 6,
    period: 30,
  }).generate({ timestamp: at.getTime() });
}

/** Turns the second factor on for the user logged in; returns the secret and recovery codes. */
async function turnOn(h: Harness): Promise<{ secret: string; codes: string[] }> {
  const start = await h.post("/security/totp");
  assert.equal(start.status, 200);
  const page = await start.text();
  const secret = /<code id="totp-secret">([A-Z2-7]+)<\/code>/.exec(page)?.[1] ?? "";
  assert.match(secret, /^[A-Z2-7]{32}$/, page);
  assert.match(page, /<svg [^>]*viewBox/, "the QR code, inline");
  assert.match(page, /otpauth:\/\/totp\/Carteiro:/);
  const done = await h.post("/security/totp/confirm", { code: codeAt(secret, h.clock.now) });
  assert.equal(done.status, 200);
  const html = await done.text();
  const codes = [...html.matchAll(/<li><code>([a-z2-9-]+)<\/code><\/li>/g)].map((m) => m[1]);
  assert.equal(codes.length, 10, html);
  return { secret, codes };
}

/** The password step: a fresh jar, the form, and the answer (a redirect to the code step). */
async function passwordStep(h: Harness, as = USER): Promise<Response> {
  h.jar = new Jar();
  const csrf = csrfFrom(await (await h.request("/login")).text());
  return await h.request("/login", {
    method: "POST",
    body: new URLSearchParams({
      _csrf: csrf,
      email: as.email,
      password: as.password,
      next: "/rules",
    }),
  });
}

/** The code step, with the pending login of the jar. */
async function codeStep(h: Harness, code: string): Promise<Response> {
  const form = await h.request("/login/code");
  assert.equal(form.status, 200, "the code form");
  const csrf = csrfFrom(await form.text());
  return await h.request("/login/code", {
    method: "POST",
    body: new URLSearchParams({ _csrf: csrf, code }),
  });
}

async function events(h: Harness, name: string) {
  return await h.db.query<{ detail: Record<string, unknown> }>(
    "SELECT detail FROM audit_events WHERE event = $1 ORDER BY id",
    [name],
  );
}

Deno.test("second factor: on only once a code confirms it; the secret is stored encrypted", async () => {
  const h = await harness();
  try {
    await h.login();
    const page = await (await h.request("/password")).text();
    assert.match(page, /href="\/security"/, "the password page links to it");
    const start = await (await h.post("/security/totp")).text();
    const secret = /<code id="totp-secret">([A-Z2-7]+)<\/code>/.exec(start)?.[1] ?? "";
    const wrong = await h.post("/security/totp/confirm", { code: "000000" });
    assert.equal(wrong.status, 422);
    assert.match(await wrong.text(), new RegExp(secret), "the same secret is shown again");
    const [row] = await h.db.query<{ totp_secret: string; totp_enabled_at: Date | null }>(
      "SELECT totp_secret, totp_enabled_at FROM users WHERE email = $1",
      [USER.email],
    );
    assert.equal(row.totp_enabled_at, null, "not on before a code confirmed it");
    assert.ok(!row.totp_secret.includes(secret), "never stored in the clear");
    assert.match(row.totp_secret, /^v1:/);
    assert.equal((await passwordStep(h)).headers.get("Location"), "/rules", "no code asked yet");

    await h.login();
    const { codes } = await turnOn(h);
    const stored = await h.db.query<{ code_hash: string }>("SELECT code_hash FROM recovery_codes");
    assert.equal(stored.length, 10);
    for (const c of codes) {
      assert.ok(!stored.some((s) => s.code_hash.includes(c.replaceAll("-", ""))), "hashes only");
    }
    assert.deepEqual((await events(h, "totp_enabled")).map((e) => e.detail), [
      { email: USER.email, by: USER.email },
    ]);
    const status = await (await h.request("/security")).text();
    assert.match(status, /Unused recovery codes: 10|Códigos de recuperação não usados: 10/);
    assert.doesNotMatch(status, new RegExp(codes[0]), "the codes are shown once");
    assert.deepEqual(h.errors, []);
  } finally {
    await h.close();
  }
});

Deno.test("second factor: the password alone gives no session; a code does, once", async () => {
  const h = await harness();
  try {
    await h.login();
    const { secret } = await turnOn(h);

    const pw = await passwordStep(h);
    assert.equal(pw.status, 303);
    assert.equal(pw.headers.get("Location"), "/login/code");
    assert.equal(h.jar.get("__Host-carteiro_session"), undefined, "no session cookie yet");
    const gate = await h.request("/messages");
    assert.equal(gate.status, 302, "the pending login is no session");
    assert.match(gate.headers.get("Location") ?? "", /^\/login/);

    // The confirming code's time-step is used: the same code does not log in.
    const reused = await codeStep(h, codeAt(secret, h.clock.now));
    assert.equal(reused.status, 401);
    h.clock.now = new Date(h.clock.now.getTime() + 30_000);
    const ok = await codeStep(h, codeAt(secret, h.clock.now));
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get("Location"), "/rules", "on to where the login was going");
    assert.equal((await h.request("/messages")).status, 200);
    assert.equal(h.jar.get("__Host-carteiro_pending"), undefined, "the pending cookie is gone");
    const logins = await events(h, "login");
    assert.deepEqual(logins.at(-1)?.detail, {
      email: USER.email,
      ip: "127.0.0.1",
      second_factor: "totp",
    });

    // Another login with the same code, in the same 30 s: refused.
    await passwordStep(h);
    assert.equal((await codeStep(h, codeAt(secret, h.clock.now))).status, 401);

    // Five minutes later the pending login is over: back to the password.
    await passwordStep(h);
    h.clock.now = new Date(h.clock.now.getTime() + 5 * 60_000 + 1000);
    const late = await h.request("/login/code");
    assert.equal(late.status, 302);
    assert.equal(late.headers.get("Location"), "/login");
    assert.deepEqual(h.errors, []);
  } finally {
    await h.close();
  }
});

Deno.test("second factor: a recovery code works once", async () => {
  const h = await harness();
  try {
    await h.login();
    const { codes } = await turnOn(h);
    await passwordStep(h);
    const ok = await codeStep(h, codes[3].toUpperCase().replaceAll("-", " "));
    assert.equal(ok.status, 303);
    assert.equal((await h.request("/messages")).status, 200);
    assert.deepEqual((await events(h, "recovery_code_used")).map((e) => e.detail), [
      { email: USER.email, ip: "127.0.0.1", remaining: 9 },
    ]);
    assert.equal((await events(h, "login")).at(-1)?.detail.second_factor, "recovery");

    await passwordStep(h);
    assert.equal((await codeStep(h, codes[3])).status, 401, "used already");
    assert.equal((await codeStep(h, codes[4])).status, 303, "another one still works");
  } finally {
    await h.close();
  }
});

Deno.test("second factor: wrong codes count against the login throttle of the e-mail", async () => {
  const h = await harness({ security: { loginFailuresPerEmail: 3 } });
  try {
    await h.login();
    const { secret } = await turnOn(h);
    h.clock.now = new Date(h.clock.now.getTime() + 30_000);
    await passwordStep(h); // counted until a code is right: 1
    assert.equal((await codeStep(h, "000000")).status, 401); // 2
    assert.equal((await codeStep(h, "abcd-efgh-jkmn-pqrs")).status, 401); // 3
    const refused = await codeStep(h, codeAt(secret, h.clock.now));
    assert.equal(refused.status, 429, "past the limit even a right code waits");
    assert.ok(Number(refused.headers.get("Retry-After")) >= 1);
    // Knowing the password does not reset the count.
    const again = await passwordStep(h);
    assert.equal(again.status, 429);
    const failed = await events(h, "login_failed");
    assert.equal(failed.length, 2, "each wrong code is audited");
  } finally {
    await h.close();
  }
});

Deno.test("second factor: off with the password, by an admin on /users, or by the CLI", async () => {
  const h = await harness();
  try {
    await h.login();
    await turnOn(h);
    const wrong = await h.post("/security/totp/off", { current: "not my password" });
    assert.equal(wrong.status, 422);
    const off = await h.post("/security/totp/off", { current: USER.password });
    assert.equal(off.status, 200);
    assert.equal((await passwordStep(h)).headers.get("Location"), "/rules", "the password alone");
    assert.equal((await h.db.query("SELECT 1 FROM recovery_codes")).length, 0);

    // A viewer who lost their phone: an admin turns it off from /users.
    const viewer = { email: "vera@example.test", password: "a long viewer password" };
    const vera = await createUser(
      h.db,
      viewer.email,
      await hashPassword(viewer.password),
      h.clock.now,
      "viewer",
    );
    await h.login(viewer);
    await turnOn(h);
    assert.equal((await passwordStep(h, viewer)).headers.get("Location"), "/login/code");
    await h.login();
    assert.match(
      await (await h.request("/users")).text(),
      new RegExp(`/users/${vera.id}/totp-off`),
    );
    assert.equal((await h.post(`/users/${vera.id}/totp-off`)).status, 303);
    assert.equal((await passwordStep(h, viewer)).headers.get("Location"), "/rules");

    // And with the CLI.
    await h.login(viewer);
    await turnOn(h);
    const printed: unknown[] = [];
    const said: string[] = [];
    const io: AdminIo = {
      readLine: () => Promise.resolve(null),
      print: (d) => printed.push(d),
      say: (l) => said.push(l),
      now: () => h.clock.now,
    };
    assert.equal(await userCommand(h.db, ["totp-off", viewer.email], io), 0);
    assert.deepEqual(printed, [{ totp_disabled: true, email: viewer.email }]);
    assert.equal(await userCommand(h.db, ["totp-off", viewer.email], io), 1, "already off");
    assert.match(said.join("\n"), /not on/);
    assert.deepEqual((await events(h, "totp_disabled")).map((e) => e.detail.by), [
      USER.email,
      USER.email,
      "cli",
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("second factor: without SECRET_KEY the page says it must be set", async () => {
  const h = await harness({ secretKey: null });
  try {
    await h.login();
    assert.match(await (await h.request("/security")).text(), /SECRET_KEY/);
    const start = await h.post("/security/totp");
    assert.equal(start.status, 422);
    assert.match(await start.text(), /SECRET_KEY is not set/);
    assert.equal((await passwordStep(h)).headers.get("Location"), "/rules");
  } finally {
    await h.close();
  }
});
