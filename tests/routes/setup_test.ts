/**
 * The one-time setup link that makes the first user in the browser: once, only with its token,
 * the CLI's rules for e-mail and password, CSRF as on /login, one user however many arrive at
 * the same moment, and a per-address limit that stops writing once it refuses. On PGlite and on
 * PostgreSQL.
 */
import assert from "node:assert/strict";
import { csrfFrom, type Harness, harness, Jar } from "./support.ts";
import { createFirstUser } from "../../src/actions/users.ts";
import { hashPassword } from "../../src/auth/password_hash.ts";

const TOKEN = "setup-token-" + "k".repeat(31);
const PASSWORD = "a long enough passphrase";
const KINDS = ["pglite", "postgres"] as const;

function setupTest(
  name: string,
  fn: (h: Harness) => Promise<void>,
  options: Parameters<typeof harness>[0] = {},
) {
  for (const kind of KINDS) {
    Deno.test(`${name} [${kind}]`, async () => {
      const h = await harness({ kind, noUser: true, setupToken: TOKEN, ...options });
      try {
        await fn(h);
        assert.deepEqual(h.errors, []);
      } finally {
        await h.close();
      }
    });
  }
}

/** Opens the link with its own cookie jar, then posts the form with `fields` from `ip`. */
async function setUp(
  h: Harness,
  fields: Record<string, string>,
  o: { ip?: string; token?: string; jar?: Jar } = {},
) {
  const jar = o.jar ?? new Jar();
  const ip = o.ip ?? "127.0.0.1";
  const send = async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (jar.header()) headers.set("Cookie", jar.header());
    const res = await h.app.request(`http://localhost${path}`, { ...init, headers }, {
      remoteAddr: { hostname: ip },
    });
    jar.take(res);
    return res;
  };
  const page = await send(`/setup?token=${encodeURIComponent(o.token ?? TOKEN)}`);
  assert.equal(page.status, 200, `the setup page: ${page.status}`);
  const res = await send("/setup", {
    method: "POST",
    body: new URLSearchParams({
      _csrf: csrfFrom(await page.text()),
      token: o.token ?? TOKEN,
      email: "first@example.test",
      password: PASSWORD,
      password_confirm: PASSWORD,
      ...fields,
    }),
  });
  return { res, body: await res.text(), jar, send };
}

async function users(h: Harness) {
  return await h.db.query<{ email: string }>("SELECT email FROM users ORDER BY id");
}

/** The app's plain "not found" (in Portuguese: no Accept-Language). */
const NOT_FOUND = { status: 404, body: "Não encontrado." };

setupTest("the link makes the first user once, logs them in, and is refused after", async (h) => {
  const page = await h.request(`/setup?token=${TOKEN}`, {
    headers: { "Accept-Language": "en" },
  });
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /Create the first admin user/);
  assert.match(html, /<form method="post" action="\/setup"/);
  assert.match(html, /name="password_confirm"/);
  assert.match(page.headers.getSetCookie().join("\n"), /__Host-carteiro_prelogin=/);

  const res = await h.request("/setup", {
    method: "POST",
    body: new URLSearchParams({
      _csrf: csrfFrom(html),
      token: TOKEN,
      email: "  First@Example.test ",
      password: PASSWORD,
      password_confirm: PASSWORD,
    }),
  });
  assert.equal(res.status, 303, await res.text());
  assert.equal(res.headers.get("Location"), "/");
  // The session cookie /login sets, with the same attributes.
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith("__Host-carteiro_session="));
  assert.ok(cookie, "a session cookie is set");
  assert.match(
    cookie,
    /^__Host-carteiro_session=[\w-]{43}; Max-Age=43200; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
  );
  const messages = await h.request("/messages");
  assert.equal(messages.status, 200, "logged in");
  assert.match(await messages.text(), /first@example\.test/);
  assert.deepEqual(await users(h), [{ email: "first@example.test" }]);
  const [event] = await h.db.query<{ event: string; detail: Record<string, unknown> }>(
    "SELECT event, detail FROM audit_events WHERE event = 'user_created'",
  );
  assert.deepEqual(event.detail, {
    email: "first@example.test",
    by: "setup",
    ip: "127.0.0.1",
    role: "admin",
  });

  // The same link again: setup is done, with the way to log in.
  for (const lang of ["en", "pt-BR"]) {
    const again = await h.app.request(`http://localhost/setup?token=${TOKEN}`, {
      headers: { "Accept-Language": lang },
    });
    assert.equal(again.status, 410);
    const body = await again.text();
    assert.match(body, lang === "en" ? /Setup is done;/ : /A configuração inicial já foi feita;/);
    assert.match(body, /<a href="\/login">/);
    assert.doesNotMatch(body, /<form method="post" action="\/setup"/);
  }
  const replay = await setUp(h, { email: "second@example.test" }).catch((e) => e);
  assert.match(String(replay), /the setup page: 410/);
  // A POST that skips the page is refused too.
  const post = await h.app.request("http://localhost/setup", {
    method: "POST",
    body: new URLSearchParams({
      token: TOKEN,
      email: "second@example.test",
      password: PASSWORD,
      password_confirm: PASSWORD,
    }),
  });
  assert.equal(post.status, 410);
  assert.deepEqual(await users(h), [{ email: "first@example.test" }]);
});

setupTest("a wrong or missing token gets the plain 404, open or done", async (h) => {
  const expected = NOT_FOUND;
  const probes = async () => {
    for (
      const path of [
        "/setup",
        "/setup?token=",
        "/setup?token=wrong",
        `/setup?token=${TOKEN}x`,
        `/setup?token=${TOKEN.slice(0, -1)}`,
        `/setup?token=${"k".repeat(5000)}`,
      ]
    ) {
      const res = await h.app.request(`http://localhost${path}`, {}, {
        remoteAddr: { hostname: `10.9.${path.length % 250}.1` },
      });
      assert.deepEqual({ status: res.status, body: await res.text() }, expected, path);
    }
    const post = await h.app.request("http://localhost/setup", {
      method: "POST",
      body: new URLSearchParams({
        token: "wrong",
        email: "x@example.test",
        password: PASSWORD,
        password_confirm: PASSWORD,
      }),
    }, { remoteAddr: { hostname: "10.9.9.9" } });
    assert.deepEqual({ status: post.status, body: await post.text() }, expected, "POST");
  };
  await probes();
  assert.deepEqual(await users(h), []);
  const { res } = await setUp(h, {});
  assert.equal(res.status, 303);
  await probes();
  assert.equal((await users(h)).length, 1);
});

setupTest("without a token (deploy mode, the CLI's app) there is no setup page", async (h) => {
  const expected = NOT_FOUND;
  for (const path of ["/setup", "/setup?token=", `/setup?token=${TOKEN}`]) {
    const res = await h.app.request(`http://localhost${path}`);
    assert.deepEqual({ status: res.status, body: await res.text() }, expected, path);
  }
}, { setupToken: null });

setupTest("every problem comes back on the form, with 422, and nothing is created", async (h) => {
  const cases: Array<[string, Record<string, string>, RegExp[]]> = [
    ["passwords differ", { password_confirm: PASSWORD + "!" }, [/are not the same/]],
    [
      "short password",
      { password: "short", password_confirm: "short" },
      [/at least 12 characters/],
    ],
    [
      "long password",
      { password: "x".repeat(1025), password_confirm: "x".repeat(1025) },
      [/at most 1024 characters/],
    ],
    ["not an e-mail", { email: "not-an-email" }, [/Enter an e-mail address/]],
    [
      "common password",
      { password: "qwerty123456", password_confirm: "qwerty123456" },
      [/list of common passwords/],
    ],
    [
      "one character repeated",
      { password: "zzzzzzzzzzzzzz", password_confirm: "zzzzzzzzzzzzzz" },
      [/one character repeated/],
    ],
    [
      "all at once",
      { email: "nobody", password: "short", password_confirm: "other" },
      [/Enter an e-mail address/, /at least 12 characters/, /are not the same/],
    ],
  ];
  for (const [what, fields, messages] of cases) {
    const jar = new Jar();
    jar.set("carteiro_lang", "en");
    const { res, body } = await setUp(h, fields, { jar });
    assert.equal(res.status, 422, what);
    assert.match(body, /<form method="post" action="\/setup"/, what);
    for (const m of messages) assert.match(body, m, what);
    assert.equal(body.match(/<li>/g)?.length, messages.length, `${what}: one line per problem`);
    if (fields.email) assert.ok(body.includes(`value="${fields.email}"`), `${what}: e-mail kept`);
    assert.ok(body.includes(`name="token" value="${TOKEN}"`), `${what}: the form keeps the link`);
    assert.doesNotMatch(body, /value="a long enough passphrase/, `${what}: no password echoed`);
  }
  // In Portuguese too.
  const pt = await setUp(h, { password_confirm: "outra senha qualquer" });
  assert.equal(pt.res.status, 422);
  assert.match(pt.body, /As duas senhas não são iguais/);
  assert.deepEqual(await users(h), []);
  // The form still works after all that.
  assert.equal((await setUp(h, {})).res.status, 303);
});

setupTest("the POST needs the pre-login CSRF token, from this site, like /login", async (h) => {
  const page = await h.request(`/setup?token=${TOKEN}`);
  const csrf = csrfFrom(await page.text());
  const fields = {
    token: TOKEN,
    email: "first@example.test",
    password: PASSWORD,
    password_confirm: PASSWORD,
  };
  const refusals: Array<[string, RequestInit]> = [
    ["no CSRF field", { method: "POST", body: new URLSearchParams(fields) }],
    ["a wrong one", {
      method: "POST",
      body: new URLSearchParams({ ...fields, _csrf: "x".repeat(43) }),
    }],
    ["the right one from another site", {
      method: "POST",
      headers: { "Sec-Fetch-Site": "cross-site" },
      body: new URLSearchParams({ ...fields, _csrf: csrf }),
    }],
  ];
  for (const [what, init] of refusals) {
    const res = await h.request("/setup", init);
    assert.equal(res.status, 403, what);
    assert.match(await res.text(), /<form method="post" action="\/setup"/, what);
  }
  // Without the cookie, the form's token alone is not enough.
  const bare = await h.app.request("http://localhost/setup", {
    method: "POST",
    body: new URLSearchParams({ ...fields, _csrf: csrf }),
  });
  assert.equal(bare.status, 403);
  assert.deepEqual(await users(h), []);
  const ok = await h.request("/setup", {
    method: "POST",
    headers: { "Sec-Fetch-Site": "same-origin" },
    body: new URLSearchParams({ ...fields, _csrf: csrf }),
  });
  assert.equal(ok.status, 303);
});

setupTest("several setups at the same moment make exactly one user", async (h) => {
  const n = 6;
  // Each client opens the page first, so that every POST is a complete, valid one.
  const clients = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const jar = new Jar();
    const page = await h.app.request(`http://localhost/setup?token=${TOKEN}`, {}, {
      remoteAddr: { hostname: `10.1.0.${i + 1}` },
    });
    assert.equal(page.status, 200);
    jar.take(page);
    return { jar, csrf: csrfFrom(await page.text()), ip: `10.1.0.${i + 1}` };
  }));
  const results = await Promise.all(clients.map((c, i) =>
    h.app.request("http://localhost/setup", {
      method: "POST",
      headers: { Cookie: c.jar.header() },
      body: new URLSearchParams({
        _csrf: c.csrf,
        token: TOKEN,
        email: `admin${i}@example.test`,
        password: PASSWORD,
        password_confirm: PASSWORD,
      }),
    }, { remoteAddr: { hostname: c.ip } })
  ));
  const statuses = results.map((r) => r.status).sort();
  assert.deepEqual(statuses, [303, ...Array(n - 1).fill(410)], `statuses: ${statuses}`);
  assert.equal((await users(h)).length, 1, JSON.stringify(await users(h)));
  const [created] = await h.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM audit_events WHERE event = 'user_created'",
  );
  assert.equal(created.n, 1);
});

setupTest("createFirstUser: check and insert are atomic, many callers, one user", async (h) => {
  // Past the page, straight at the transaction: the hashing done, all released at once.
  const hash = await hashPassword(PASSWORD);
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) =>
    createFirstUser(
      h.db,
      { email: `racer${i}@example.test`, passwordHash: hash, ip: "10.2.0.1" },
      h.clock.now,
    )));
  assert.equal(results.filter((r) => r.created).length, 1);
  assert.equal((await users(h)).length, 1);
});

setupTest(
  "wrong tokens are limited per address and in all; the refusals write nothing",
  async (h) => {
    const get = (ip: string, token = "wrong") =>
      h.app.request(`http://localhost/setup?token=${token}`, {}, { remoteAddr: { hostname: ip } });
    const rows = async () =>
      (await h.db.query<{ n: number }>("SELECT count(*)::int AS n FROM login_attempts"))[0].n;
    for (let i = 0; i < 3; i++) assert.equal((await get("10.0.0.1")).status, 404);
    const refused = await get("10.0.0.1");
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("Retry-After"), "900");
    // Past the limit even the right token is refused from that address, and POSTs too.
    assert.equal((await get("10.0.0.1", TOKEN)).status, 429);
    const post = await h.app.request("http://localhost/setup", {
      method: "POST",
      body: new URLSearchParams({ token: TOKEN }),
    }, { remoteAddr: { hostname: "10.0.0.1" } });
    assert.equal(post.status, 429);
    const before = await rows();
    for (let i = 0; i < 20; i++) assert.equal((await get("10.0.0.1")).status, 429);
    assert.equal(await rows(), before, "a refused attempt adds no row");
    // Other addresses still may; each POST counts, not only wrong tokens.
    assert.equal((await get("10.0.0.2", TOKEN)).status, 200);
    for (let i = 0; i < 3; i++) {
      const { res } = await setUp(h, { password_confirm: "not the same" }, { ip: "10.0.0.3" });
      assert.equal(res.status, 422);
    }
    assert.equal((await get("10.0.0.3", TOKEN)).status, 429, "three failed POSTs");
    // Many addresses together: the total stops them all (and the table stays small).
    for (let i = 10; i < 12; i++) assert.equal((await get(`10.0.1.${i}`)).status, 404);
    assert.equal((await get("10.0.2.1", TOKEN)).status, 429, "the total is reached");
    assert.equal(await rows(), 8);
    // After the window, the address may try again, and the old attempts are forgotten.
    h.clock.now = new Date(h.clock.now.getTime() + 16 * 60_000);
    assert.equal((await get("10.0.0.1")).status, 404);
    assert.equal(await rows(), 1, "attempts older than the window are pruned");
    const { res } = await setUp(h, {}, { ip: "10.0.0.1" });
    assert.equal(res.status, 303);
  },
  { security: { setupFailuresPerIp: 3, setupFailuresTotal: 8 } },
);
