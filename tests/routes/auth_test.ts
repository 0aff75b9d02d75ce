/**
 * Access to every route, login, sessions, CSRF and the headers every response carries
 * (RELIABILITY I-06, I-07, I-08, I-09, I-11).
 */
import assert from "node:assert/strict";
import { accessOf } from "../../routes/app.ts";
import { csrfFrom, eml, harness, Jar, seedMessage, USER } from "./support.ts";

const CANARY = "CANARY-subject-7f3a";

/** Every registered route with its parameters filled in. */
function concreteRoutes(routes: Array<{ method: string; path: string }>) {
  const seen = new Set<string>();
  const out: Array<{ method: string; path: string; pattern: string }> = [];
  for (const r of routes) {
    if (r.method === "ALL") continue;
    const path = r.path
      .replace(/:id\{[^}]*\}|:id\b/g, "1")
      .replace(/:name\b/g, "app.css")
      .replace(/:format\{[^}]*\}/g, "csv")
      .replace(/\/\*$/, "/x");
    const key = `${r.method} ${path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ method: r.method, path, pattern: r.path });
  }
  return out;
}

Deno.test("every route but login (and its code step), setup, lang, health and static needs a session or a token", async () => {
  const h = await harness();
  try {
    await seedMessage(h.db, eml({ subject: CANARY, text: CANARY, html: `<p>${CANARY}</p>` }), {
      outbox: { status: "failed" },
    });
    const routes = concreteRoutes(h.app.routes);
    assert.ok(routes.length > 40, `only ${routes.length} routes registered`);
    const publicPaths = routes.filter((r) => accessOf(r.path) === "public").map((r) =>
      `${r.method} ${r.pattern}`
    );
    assert.deepEqual(publicPaths.sort(), [
      "GET /healthz",
      "GET /login",
      "GET /login/code",
      "GET /setup",
      "GET /static/:name",
      "POST /lang",
      "POST /login",
      "POST /login/code",
      "POST /setup",
    ]);
    const forged = "__Host-carteiro_session=" + "A".repeat(43);
    for (const r of routes) {
      const access = accessOf(r.path);
      if (access === "public") continue;
      for (const cookie of ["", forged]) {
        for (const hx of [false, true]) {
          const headers: Record<string, string> = {};
          if (cookie) headers.Cookie = cookie;
          if (hx) headers["HX-Request"] = "true";
          const res = await h.app.request(`http://localhost${r.path}`, {
            method: r.method,
            headers,
          });
          const body = await res.text();
          const what = `${r.method} ${r.path} cookie=${Boolean(cookie)} hx=${hx}`;
          assert.ok(!body.includes(CANARY), `${what} leaked mail`);
          if (access === "token") {
            assert.equal(res.status, 401, what);
            assert.equal(JSON.parse(body).error.code, "unauthorized", what);
          } else {
            assert.equal(res.status, 302, what);
            assert.match(res.headers.get("Location") ?? "", /^\/login/, what);
          }
        }
      }
    }
    assert.equal(accessOf("/some-new-page"), "session", "unknown paths default to a session");
    // Health and static answer without a session and show no mail.
    const health = await h.app.request("http://localhost/healthz");
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok", database: "pglite" });
    const htmx = await h.app.request("http://localhost/static/htmx.min.js");
    assert.equal(htmx.status, 200);
    assert.match(await htmx.text(), /htmx\.org 2\.0\.11/);
    assert.equal((await h.app.request("http://localhost/static/..%2Fdeno.json")).status, 404);
    assert.deepEqual(h.errors, []);
  } finally {
    await h.close();
  }
});

Deno.test("login: a session cookie with __Host-, Secure, HttpOnly, SameSite; a new id each time", async () => {
  const h = await harness();
  try {
    // A session id planted before login (fixation) is not the one that comes back.
    h.jar.set("__Host-carteiro_session", "planted-" + "x".repeat(35));
    const page = await h.request("/login");
    const setCookies = page.headers.getSetCookie().join("\n");
    assert.match(
      setCookies,
      /__Host-carteiro_prelogin=[\w-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict/,
    );
    const res = await h.request("/login", {
      method: "POST",
      body: new URLSearchParams({
        _csrf: csrfFrom(await page.text()),
        email: "ADMIN@example.test",
        password: USER.password,
        next: "/outbox?status=failed",
      }),
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("Location"), "/outbox?status=failed");
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("__Host-carteiro_session="));
    assert.ok(cookie, "a session cookie is set");
    assert.match(
      cookie,
      /^__Host-carteiro_session=[\w-]{43}; Max-Age=43200; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
    assert.ok(!cookie.includes("planted"));
    const [row] = await h.db.query<{ token_hash: string }>("SELECT token_hash FROM sessions");
    assert.match(row.token_hash, /^[0-9a-f]{64}$/, "only a hash of the session id is stored");
    assert.ok(!cookie.includes(row.token_hash));
    // `next` outside the site is ignored.
    const jar = new Jar();
    const p2 = await h.app.request("http://localhost/login");
    jar.take(p2);
    const evil = await h.app.request("http://localhost/login", {
      method: "POST",
      headers: { Cookie: jar.header() },
      body: new URLSearchParams({
        _csrf: csrfFrom(await p2.text()),
        email: USER.email,
        password: USER.password,
        next: "//evil.test/",
      }),
    }, { remoteAddr: { hostname: "127.0.0.9" } });
    assert.equal(evil.headers.get("Location"), "/overview");
  } finally {
    await h.close();
  }
});

Deno.test("login: wrong e-mail and wrong password get the same answer; empty fields 422", async () => {
  const h = await harness();
  try {
    const attempt = async (email: string, password: string) => {
      const page = await h.request("/login");
      const res = await h.request("/login", {
        method: "POST",
        body: new URLSearchParams({ _csrf: csrfFrom(await page.text()), email, password }),
      });
      return { status: res.status, body: await res.text() };
    };
    const wrongPassword = await attempt(USER.email, "not the password");
    const wrongUser = await attempt("nobody@example.test", "not the password");
    assert.equal(wrongPassword.status, 401);
    assert.equal(wrongUser.status, 401);
    const message = (b: string) => /role="alert">([^<]+)</.exec(b)?.[1];
    assert.equal(message(wrongPassword.body), message(wrongUser.body));
    assert.match(wrongPassword.body, /<form method="post" action="\/login"/);
    const empty = await attempt("someone@example.test", "");
    assert.equal(empty.status, 422);
    assert.match(empty.body, /value="someone@example.test"/, "the form comes back filled in");
    const events = await h.db.query<{ event: string }>(
      "SELECT event FROM audit_events ORDER BY id",
    );
    assert.deepEqual(events.map((e) => e.event), ["login_failed", "login_failed"]);
  } finally {
    await h.close();
  }
});

Deno.test("login throttling: per e-mail, then per client address, stored in the database", async () => {
  const h = await harness({ security: { loginFailuresPerEmail: 3, loginFailuresPerIp: 5 } });
  try {
    const attempt = async (email: string, password: string, ip: string) => {
      const page = await h.request("/login", { ip });
      return (await h.request("/login", {
        method: "POST",
        ip,
        body: new URLSearchParams({ _csrf: csrfFrom(await page.text()), email, password }),
      })).status;
    };
    for (let i = 0; i < 3; i++) assert.equal(await attempt(USER.email, "wrong", "10.0.0.1"), 401);
    // Even the right password waits now, for this e-mail, from any address: a second at first.
    assert.equal(await attempt(USER.email, USER.password, "10.0.0.2"), 429);
    // One address trying many e-mails.
    for (let i = 0; i < 3; i++) {
      assert.equal(await attempt(`u${i}@example.test`, "wrong", "10.0.0.3"), 401);
    }
    // 10.0.0.3 has 3 failures; the limit per address is 5.
    assert.equal(await attempt("x1@example.test", "wrong", "10.0.0.3"), 401);
    assert.equal(await attempt("x2@example.test", "wrong", "10.0.0.3"), 401);
    assert.equal(await attempt("x3@example.test", "wrong", "10.0.0.3"), 429);
    assert.equal(await attempt("x3@example.test", "wrong", "10.0.0.5"), 401, "other addresses");
    // After the wait, the e-mail may try again.
    h.clock.now = new Date(h.clock.now.getTime() + 1000);
    assert.equal(await attempt(USER.email, USER.password, "10.0.0.4"), 303);
    const [n] = await h.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE event IN ('login_failed', 'login')",
    );
    assert.equal(n.n, 10, "each checked attempt is audited, the refused ones are not");
  } finally {
    await h.close();
  }
});

Deno.test("logout ends the session on the server; idle and absolute timeouts hold", async () => {
  const h = await harness({ security: { sessionIdleMs: 60_000, sessionMaxMs: 10 * 60_000 } });
  try {
    await h.login();
    const cookie = h.jar.header();
    const out = await h.post("/logout");
    assert.equal(out.status, 303);
    const reuse = await h.app.request("http://localhost/messages", { headers: { Cookie: cookie } });
    assert.equal(reuse.status, 302, "the old cookie no longer works");

    await h.login();
    h.clock.now = new Date(h.clock.now.getTime() + 50_000);
    assert.equal((await h.request("/messages")).status, 200);
    h.clock.now = new Date(h.clock.now.getTime() + 61_000);
    assert.equal((await h.request("/messages")).status, 302, "idle timeout");

    await h.login();
    for (let i = 0; i < 12; i++) {
      h.clock.now = new Date(h.clock.now.getTime() + 55_000);
      const status = (await h.request("/messages")).status;
      assert.equal(status, i < 10 ? 200 : 302, `minute ${i}: absolute timeout at 10 minutes`);
      if (status === 302) break;
    }
  } finally {
    await h.close();
  }
});

Deno.test("CSRF: every state change needs the session's token, whatever the content type", async () => {
  const h = await harness();
  try {
    const id = await seedMessage(h.db, eml({}), { outbox: { status: "failed" } });
    const [{ id: outboxId }] = await h.db.query<{ id: number }>("SELECT id FROM outbox");
    await h.login();
    const url = `/outbox/${outboxId}/retry`;
    const refusals: Array<[string, RequestInit]> = [
      ["form without token", { method: "POST", body: new URLSearchParams({ a: "1" }) }],
      ["form with a wrong token", {
        method: "POST",
        body: new URLSearchParams({ _csrf: "x".repeat(43) }),
      }],
      ["no body, no content type", { method: "POST" }],
      ["text/plain carrying JSON", {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: JSON.stringify({ _csrf: h.csrf }),
      }],
      ["JSON body with the token inside", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ _csrf: h.csrf }),
      }],
      ["the right token from another site", {
        method: "POST",
        headers: { "Sec-Fetch-Site": "cross-site", "X-CSRF-Token": h.csrf },
      }],
    ];
    for (const [what, init] of refusals) {
      const res = await h.request(url, init);
      assert.equal(res.status, 403, what);
    }
    const [row] = await h.db.query<{ status: string }>("SELECT status FROM outbox");
    assert.equal(row.status, "failed", "nothing changed");
    // Logout and the language switch are state changes too.
    assert.equal((await h.request("/logout", { method: "POST" })).status, 403);
    assert.equal(
      (await h.request("/lang", { method: "POST", body: new URLSearchParams({ lang: "en" }) }))
        .status,
      403,
    );
    // The header htmx sends works; so does the form field.
    const ok = await h.request(url, {
      method: "POST",
      headers: { "X-CSRF-Token": h.csrf, "Sec-Fetch-Site": "same-origin" },
    });
    assert.equal(ok.status, 303);
    assert.equal(
      (await h.db.query<{ status: string }>("SELECT status FROM outbox"))[0].status,
      "pending",
    );
    // GET never changes state.
    const get = await h.request(`/outbox/${outboxId}/cancel`);
    assert.equal(get.status, 404);
    assert.ok(id > 0);
    // Login without the pre-login cookie is refused too.
    const bare = await h.app.request("http://localhost/login", {
      method: "POST",
      body: new URLSearchParams({
        _csrf: "y".repeat(43),
        email: USER.email,
        password: USER.password,
      }),
    });
    assert.equal(bare.status, 403);
  } finally {
    await h.close();
  }
});

Deno.test("security headers on pages, fragments, errors and the API", async () => {
  const h = await harness();
  try {
    await h.login();
    const token = await h.apiToken();
    const responses = [
      await h.request("/messages"),
      await h.request("/messages", { headers: { "HX-Request": "true" } }),
      await h.request("/nowhere"),
      await h.request("/messages?since=bad"),
      await h.app.request("http://localhost/login"),
      await h.app.request("http://localhost/api/v1/stats", {
        headers: { Authorization: `Bearer ${token}` },
      }),
      await h.app.request("http://localhost/api/v1/stats"),
    ];
    for (const res of responses) {
      const csp = res.headers.get("Content-Security-Policy") ?? "";
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(res.headers.get("X-Content-Type-Options"), "nosniff");
      assert.equal(res.headers.get("Referrer-Policy"), "same-origin");
      assert.equal(res.headers.get("X-Frame-Options"), "DENY");
      assert.match(res.headers.get("Vary") ?? "", /HX-Request/);
      assert.equal(res.headers.get("Cache-Control"), "no-store");
    }
    const page = await responses[0].text();
    assert.doesNotMatch(page, /<script>|<script [^>]*>[^<]/, "no inline script");
    assert.doesNotMatch(page, / style="/, "no inline style");
  } finally {
    await h.close();
  }
});

Deno.test("language: Accept-Language picks it, the switch keeps it in a cookie", async () => {
  const h = await harness();
  try {
    const pt = await h.request("/login", { headers: { "Accept-Language": "pt-BR,pt;q=0.9" } });
    assert.match(await pt.text(), /Entrar no Carteiro/);
    const en = await h.app.request("http://localhost/login", {
      headers: { "Accept-Language": "en-GB,en;q=0.8,pt;q=0.5" },
    });
    assert.match(await en.text(), /Log in to Carteiro/);
    await h.login();
    const sw = await h.post("/lang", { lang: "en", back: "/outbox" });
    assert.equal(sw.status, 303);
    assert.equal(sw.headers.get("Location"), "/outbox");
    const page = await h.request("/outbox", { headers: { "Accept-Language": "pt-BR" } });
    const html = await page.text();
    assert.match(html, /<html lang="en">/);
    assert.match(html, /Outbox/);
    const back = await h.post("/lang", { lang: "pt-BR", back: "https://evil.test/" });
    assert.equal(back.headers.get("Location"), "/overview");
    assert.match(await (await h.request("/outbox")).text(), /Saída/);
  } finally {
    await h.close();
  }
});
