/**
 * Loop breakers end to end, on the real Dovecot, Postfix and PostgreSQL through the real commands
 * (`account set`, `collect --once`, `send --once`, `stats`, `breakers list`) and the admin app on
 * the same database: a breaker trips, shows (the banner, `/metrics`, `stats`), closes by itself
 * after the short cool-down the account's policy sets, and an operator resets another one with
 * the admin's button, after which that recipient is answered again.
 */
import assert from "node:assert/strict";
import { freshPostgresDatabase } from "../support/databases.ts";
import { runCli } from "../support/cli.ts";
import {
  deliverRaw,
  ensureMailstack,
  freshUser,
  imapConfig,
  mailboxEnv,
} from "../support/mailstack.ts";
import { settledInbox } from "../support/mailbox_reader.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";
import { createApp } from "../../routes/app.ts";
import { createUser } from "../../src/store/users.ts";
import { hashPassword } from "../../src/auth/password_hash.ts";
import { createApiToken } from "../../src/store/api_tokens.ts";
import { newSecret, secretHash } from "../../src/auth/tokens.ts";
import { listAccounts } from "../../src/store/accounts.ts";
import { csrfFrom, Jar } from "../routes/support.ts";

type Person = Awaited<ReturnType<typeof freshUser>>;

/** A second reply to a recipient within 10 minutes trips its breaker. */
const BREAKER = { scope: "recipient", max: 1, within_seconds: 600 };

/**
 * One rule per word of the subject: a recipient can get a reply from each (each has its window).
 * The third allows 5 replies to a recipient in 10 minutes: its limits go over the account's.
 */
const RULES = ["um", "dois", "tres"].map((word) => ({
  name: `pedido-${word}`,
  when: { kind: "direct", subject_contains: word },
  reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos." },
  ...(word === "tres" ? { limits: { breakers: [{ ...BREAKER, max: 5 }] } } : {}),
}));

function message(from: Person, to: string, subject: string) {
  return new TextEncoder().encode(
    `From: ${from.user.split("@")[0]} <${from.address}>\r\nTo: ${to}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${crypto.randomUUID()}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nOi.\r\n`,
  );
}

Deno.test("a breaker trips, shows, closes after its cool-down; an operator resets another", async () => {
  await ensureMailstack();
  const box = await freshUser("box");
  const ana = await freshUser("ana");
  const bruno = await freshUser("bruno");
  const database = await freshPostgresDatabase();
  const env = { ...mailboxEnv(box), DATABASE_URL: database.url };
  const db = openPostgres({ url: database.url, max: 2 });
  const rulesFile = await Deno.makeTempFile({ suffix: ".json" });
  const cli = async (...args: string[]) => {
    const run = await runCli(args, env);
    assert.equal(run.code, 0, `${args.join(" ")} failed:\n${run.stderr}`);
    return run.docs[0] as Record<string, unknown>;
  };
  const decisions = async () =>
    (await db.query<{ rule_name: string; reason: string | null; recipient: string }>(
      `SELECT d.rule_name, d.reason, lower(m.from_address) AS recipient FROM decisions d
       JOIN messages m ON m.id = d.message_id WHERE d.outcome IN ('reply', 'suppressed')
       ORDER BY d.message_id`,
    )).map((d) => {
      const who = d.recipient.startsWith("ana") ? "ana" : "bruno";
      return `${who} ${d.rule_name} ${d.reason ?? "reply"}`;
    });
  try {
    await Deno.writeTextFile(rulesFile, JSON.stringify(RULES));
    await cli("rules", "import", rulesFile);
    await cli("collect", "--once");
    const account = ((await cli("stats")).accounts as Array<{ name: string }>)[0].name;

    // The account's policy first has no cool-down: a breaker stays open until a person resets it.
    const policy = (coolDown: number | null) =>
      JSON.stringify({ limits: { breakers: [BREAKER], cool_down_seconds: coolDown } });
    const set = await cli("account", "set", account, policy(null));
    assert.equal((set.limits_in_force as Record<string, unknown>).cool_down_seconds, null);

    // First replies to both; Bruno's second message trips his breaker.
    await deliverRaw(box.user, [
      message(ana, box.address, "Pedido um"),
      message(bruno, box.address, "Pedido um"),
    ]);
    await cli("collect", "--once");
    await deliverRaw(box.user, [message(bruno, box.address, "Pedido dois")]);
    await cli("collect", "--once");
    // Then a 90-second cool-down, under which Ana's second message trips hers.
    await cli("account", "set", account, policy(90));
    await deliverRaw(box.user, [message(ana, box.address, "Pedido dois")]);
    await cli("collect", "--once");

    // Shown: stats, the CLI's list, /metrics, and the banner on the admin's pages.
    assert.deepEqual((await cli("stats")).breakers_open, { account: 0, recipient: 2 });
    const open = (await runCli(["breakers", "list", "--open"], env)).docs[0] as Array<
      { id: number; recipient: string; open_until: string | null; tripped_at: string }
    >;
    const anaBreaker = open.find((b) => b.recipient === ana.address.toLowerCase())!;
    const brunoBreaker = open.find((b) => b.recipient === bruno.address.toLowerCase())!;
    assert.ok(anaBreaker && brunoBreaker, JSON.stringify(open));
    assert.equal(
      Date.parse(anaBreaker.open_until!) - Date.parse(anaBreaker.tripped_at),
      90_000,
    );
    assert.equal(brunoBreaker.open_until, null);

    const admin = await adminApp(db);
    const page = await admin.get("/messages");
    assert.match(page, /Disjuntores de laço abertos: 2\./);
    const metrics = await admin.metrics();
    assert.ok(metrics.includes('carteiro_reply_breakers_open{scope="recipient"} 2'), metrics);
    assert.equal((await cli("send", "--once")).sent, 2);

    // Ana's closes by itself after its cool-down.
    const deadline = Date.now() + 180_000;
    let stillOpen = open;
    while (Date.now() < deadline) {
      stillOpen = (await runCli(["breakers", "list", "--open"], env)).docs[0] as typeof open;
      if (stillOpen.length === 1) break;
      await new Promise((r) => setTimeout(r, 2_000));
    }
    assert.deepEqual(stillOpen.map((b) => b.recipient), [bruno.address.toLowerCase()]);
    assert.match(await admin.get("/outbox"), /Disjuntores de laço abertos: 1\./);

    // Now Ana is answered again (by the rule whose limits allow it); Bruno's breaker still holds
    // his reply.
    await deliverRaw(box.user, [
      message(ana, box.address, "Pedido tres"),
      message(bruno, box.address, "Pedido tres"),
    ]);
    await cli("collect", "--once");

    // An operator resets Bruno's with the admin's button; the banner is gone, he is answered.
    const reset = await admin.post(`/breakers/${brunoBreaker.id}/reset`);
    assert.equal(reset.status, 303);
    assert.doesNotMatch(await admin.get("/messages"), /breaker-banner/);
    await deliverRaw(box.user, [message(bruno, box.address, "Pedido tres, de novo")]);
    await cli("collect", "--once");
    assert.deepEqual(await decisions(), [
      "ana pedido-um reply",
      "bruno pedido-um reply",
      "bruno pedido-dois loop_suspected",
      "ana pedido-dois loop_suspected",
      "ana pedido-tres reply",
      "bruno pedido-tres loop_suspected",
      "bruno pedido-tres reply",
    ]);
    assert.equal((await cli("send", "--once")).sent, 2);
    assert.equal((await settledInbox(imapConfig(ana.user, ana.pass), 2)).length, 2);
    assert.equal((await settledInbox(imapConfig(bruno.user, bruno.pass), 2)).length, 2);
    const events = await db.query<{ event: string; by: string | null }>(
      `SELECT event, detail->>'by' AS by FROM audit_events
       WHERE event IN ('breaker_tripped', 'breaker_reset', 'account_settings_changed')
       ORDER BY id`,
    );
    assert.deepEqual(events.map((e) => `${e.event} ${e.by ?? ""}`.trim()), [
      "account_settings_changed cli",
      "breaker_tripped",
      "account_settings_changed cli",
      "breaker_tripped",
      "breaker_reset admin@example.test",
    ]);
  } finally {
    await db.close();
    await database.drop();
    await Deno.remove(rulesFile);
  }
});

/** The admin app on the test's database, with a logged-in person and an API token. */
async function adminApp(db: ReturnType<typeof openPostgres>) {
  const email = "admin@example.test";
  const password = "correct horse battery staple";
  await createUser(db, email, await hashPassword(password), new Date());
  const token = `crt_${newSecret()}`;
  await createApiToken(db, {
    name: "tests",
    tokenHash: await secretHash(token),
    scopes: ["read", "write", "metrics"],
    expiresAt: null,
  }, new Date());
  const app = createApp({
    db,
    now: () => new Date(),
    secretKey: null,
    secureCookies: true,
    connectionTarget: () => Promise.resolve(null),
    testConnection: () => Promise.resolve({ ok: false, error: "not in this test" }),
    accountContext: async (id) => {
      const a = (await listAccounts(db)).find((x) => x.id === id)!;
      return {
        id: a.id,
        name: a.name,
        addresses: [a.address],
        connectedAt: a.connectedAt,
        messageIdDomain: "example.test",
      };
    },
    ownAddresses: async () => (await listAccounts(db)).map((a) => a.address),
    rerunRules: () => Promise.resolve(false),
    replayMessage: () => Promise.reject(new Error("no replay in this test")),
  });
  const jar = new Jar();
  const request = async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (jar.header()) headers.set("Cookie", jar.header());
    const res = await app.request(`http://localhost${path}`, { ...init, headers }, {
      remoteAddr: { hostname: "127.0.0.1" },
    });
    jar.take(res);
    return res;
  };
  const pre = csrfFrom(await (await request("/login")).text());
  const login = await request("/login", {
    method: "POST",
    body: new URLSearchParams({ _csrf: pre, email, password }),
  });
  assert.equal(login.status, 303);
  const csrf = csrfFrom(await (await request("/messages")).text());
  return {
    get: async (path: string) => {
      const res = await request(path);
      assert.equal(res.status, 200, path);
      return await res.text();
    },
    post: (path: string) =>
      request(path, { method: "POST", body: new URLSearchParams({ _csrf: csrf }) }),
    metrics: async () => {
      const res = await app.request("http://localhost/metrics", {
        headers: { Authorization: `Bearer ${token}` },
      });
      return await res.text();
    },
  };
}
