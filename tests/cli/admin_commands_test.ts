import assert from "node:assert/strict";
import { openTestStore } from "../support/databases.ts";
import {
  type AdminIo,
  firstStartHint,
  readOneLine,
  setupLink,
  tokenCreate,
} from "../../src/cli/admin_commands.ts";
import { findUserForLogin } from "../../src/store/users.ts";
import { verifyPassword } from "../../src/auth/password_hash.ts";
import { userCommand } from "../../src/cli/user_commands.ts";
import { findApiToken } from "../../src/store/api_tokens.ts";
import { secretHash } from "../../src/auth/tokens.ts";

function io(lines: string[]) {
  const printed: unknown[] = [];
  const said: string[] = [];
  const value: AdminIo = {
    readLine: () => Promise.resolve(lines.shift() ?? null),
    print: (d) => printed.push(d),
    say: (l) => said.push(l),
    now: () => new Date("2026-03-10T12:00:00Z"),
  };
  return { io: value, printed, said };
}

Deno.test("user add reads the password from stdin, stores only a PBKDF2 hash", async () => {
  const store = await openTestStore("pglite");
  try {
    assert.match(await firstStartHint(store.db) ?? "", /deno task cli user add/);
    const a = io(["a long enough password"]);
    assert.equal(await userCommand(store.db, ["add", "Admin@Example.test"], a.io), 0);
    assert.deepEqual(a.printed, [{
      created: true,
      id: 1,
      email: "admin@example.test",
      role: "admin",
      disabled: false,
      disabled_at: null,
      totp_enabled: false,
      created_at: "2026-03-10T12:00:00.000Z",
    }]);
    const user = await findUserForLogin(store.db, "admin@example.test");
    assert.match(user?.passwordHash ?? "", /^pbkdf2-sha256\$600000\$/);
    assert.ok(await verifyPassword("a long enough password", user!.passwordHash));
    assert.equal(await firstStartHint(store.db), null);
    const again = io(["another long password"]);
    assert.equal(await userCommand(store.db, ["add", "admin@example.test"], again.io), 1);
    assert.match(again.said.join("\n"), /already exists/);
    const short = io(["short"]);
    assert.equal(await userCommand(store.db, ["add", "b@example.test"], short.io), 2);
    const noInput = io([]);
    assert.equal(await userCommand(store.db, ["add", "c@example.test"], noInput.io), 2);
    assert.equal(await userCommand(store.db, ["add", "not-an-email"], io(["x".repeat(20)]).io), 2);
  } finally {
    await store.close();
  }
});

Deno.test("token create prints the token once; only its hash is stored", async () => {
  const store = await openTestStore("pglite");
  try {
    const a = io([]);
    assert.equal(await tokenCreate(store.db, ["grafana"], a.io), 0);
    const doc = a.printed[0] as { name: string; token: string; scopes: string[] };
    assert.equal(doc.name, "grafana");
    assert.deepEqual(doc.scopes, ["read", "write", "metrics"]);
    assert.match(doc.token, /^crt_[A-Za-z0-9_-]{43}$/);
    const dump = JSON.stringify(await store.db.query("SELECT * FROM api_tokens"));
    assert.ok(!dump.includes(doc.token));
    assert.ok(await findApiToken(store.db, await secretHash(doc.token)));
    assert.equal(await tokenCreate(store.db, ["grafana"], io([]).io), 2);
    assert.equal(await tokenCreate(store.db, ["bad name!"], io([]).io), 2);
    assert.equal(await tokenCreate(store.db, [], io([]).io), 2);
  } finally {
    await store.close();
  }
});

Deno.test("token create --scopes and --expires: stored as given; bad ones refused with the reason", async () => {
  const store = await openTestStore("pglite");
  try {
    const a = io([]);
    const now = new Date("2026-12-06T12:00:00Z");
    a.io.now = () => now;
    const args = ["scraper", "--scopes", "metrics", "--expires", "2027-01-31"];
    assert.equal(await tokenCreate(store.db, args, a.io), 0);
    const doc = a.printed[0] as { token: string; scopes: string[]; expires_at: string };
    assert.deepEqual(doc.scopes, ["metrics"]);
    assert.equal(doc.expires_at, "2027-01-31T23:59:59.999Z");
    const row = await findApiToken(store.db, await secretHash(doc.token));
    assert.deepEqual(row?.scopes, ["metrics"]);
    assert.equal(row?.expiresAt?.toISOString(), "2027-01-31T23:59:59.999Z");

    const bad = io([]);
    bad.io.now = () => now;
    assert.equal(await tokenCreate(store.db, ["x", "--scopes", "admin,read"], bad.io), 2);
    assert.match(bad.said.join("\n"), /scopes: unknown "admin"; use read, write, metrics/);
    assert.equal(await tokenCreate(store.db, ["y", "--expires", "2026-12-05"], bad.io), 2);
    assert.match(bad.said.join("\n"), /expires: a future date/);
    assert.equal(await tokenCreate(store.db, ["z", "--frobnicate"], bad.io), 2);
    assert.match(bad.said.join("\n"), /usage: token create NAME/);
    assert.equal((await store.db.query("SELECT 1 FROM api_tokens")).length, 1);
  } finally {
    await store.close();
  }
});

Deno.test("readOneLine takes the first line of a stream, without its line end", async () => {
  const stream = (chunks: string[]) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const ch of chunks) c.enqueue(new TextEncoder().encode(ch));
        c.close();
      },
    });
  assert.equal(await readOneLine(stream(["pass", "word\r\nnext"])), "password");
  assert.equal(await readOneLine(stream(["no newline"])), "no newline");
  assert.equal(await readOneLine(stream([])), null);
});

Deno.test("the first start names the setup link, reachable from this machine, and the CLI", async () => {
  const store = await openTestStore("pglite");
  try {
    const token = "T".repeat(43);
    const hint = await firstStartHint(store.db, { hostname: "127.0.0.1", port: 8000, token }) ??
      "";
    assert.ok(hint.includes(`  http://127.0.0.1:8000/setup?token=${token}\n`), hint);
    assert.match(hint, /one-time link/);
    assert.match(hint, /deno task cli user add/);
    assert.doesNotMatch(hint, /every address/);
    const link = (hostname: string) => setupLink({ hostname, port: 9000, token: "t" });
    assert.deepEqual(link("0.0.0.0").url, "http://127.0.0.1:9000/setup?token=t");
    assert.match(link("0.0.0.0").note ?? "", /HOST=0\.0\.0\.0 listens on every address/);
    assert.deepEqual(link("::").url, "http://localhost:9000/setup?token=t");
    assert.ok(link("::").note);
    assert.deepEqual(link("::1"), { url: "http://[::1]:9000/setup?token=t", note: null });
    assert.deepEqual(link("admin.example.test"), {
      url: "http://admin.example.test:9000/setup?token=t",
      note: null,
    });
    await store.db.query(
      "INSERT INTO users (email, password_hash, created_at) VALUES ('a@b.test', 'x', now())",
    );
    assert.equal(
      await firstStartHint(store.db, { hostname: "127.0.0.1", port: 8000, token }),
      null,
    );
  } finally {
    await store.close();
  }
});
