/**
 * Login limits hold under races and cannot be turned against the admin: a check and its count
 * are one statement, so parallel guesses stop at the limit; past it a correct password waits a
 * growing delay (at most 30 s) instead of being shut out for the window; refused attempts write
 * nothing; and `X-Forwarded-For` names the client only when `TRUSTED_PROXIES` names the proxy
 * that connected. On PGlite and on PostgreSQL.
 */
import assert from "node:assert/strict";
import { createApp } from "../../routes/app.ts";
import { csrfFrom, type Harness, harness, USER } from "../routes/support.ts";

const KINDS = ["pglite", "postgres"] as const;

function limitTest(
  name: string,
  fn: (h: Harness) => Promise<void>,
  options: Parameters<typeof harness>[0] = {},
) {
  for (const kind of KINDS) {
    Deno.test(`${name} [${kind}]`, async () => {
      const h = await harness({ kind, ...options });
      try {
        await fn(h);
        assert.deepEqual(h.errors, []);
      } finally {
        await h.close();
      }
    });
  }
}

/** The pre-login CSRF token (its cookie goes into the harness's jar). */
async function preLogin(h: Harness): Promise<string> {
  return csrfFrom(await (await h.request("/login")).text());
}

function attempt(
  h: Harness,
  csrf: string,
  o: { email: string; password: string; ip: string; headers?: Record<string, string> },
): Promise<Response> {
  return h.request("/login", {
    method: "POST",
    ip: o.ip,
    headers: o.headers,
    body: new URLSearchParams({ _csrf: csrf, email: o.email, password: o.password }),
  });
}

const statuses = (rs: Response[]) => rs.map((r) => r.status).sort();
const count = (xs: number[], x: number) => xs.filter((s) => s === x).length;
const later = (h: Harness, ms: number) => {
  h.clock.now = new Date(h.clock.now.getTime() + ms);
};

/** Rows in every table of the schema, by table. */
async function rowCounts(h: Harness): Promise<Record<string, number>> {
  const tables = await h.db.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  const out: Record<string, number> = {};
  for (const t of tables) {
    const [r] = await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${t.name}"`);
    out[t.name] = r.n;
  }
  return out;
}

limitTest("9 parallel wrong passwords for one e-mail, limit 5: at most 5 checked", async (h) => {
  const csrf = await preLogin(h);
  const results = await Promise.all(
    Array.from(
      { length: 9 },
      (_, i) =>
        attempt(h, csrf, { email: USER.email, password: `wrong ${i}`, ip: `10.1.0.${i + 1}` }),
    ),
  );
  const s = statuses(results);
  assert.ok(count(s, 401) <= 5, `checked ${count(s, 401)}: ${s}`);
  assert.equal(count(s, 401) + count(s, 429), 9, `${s}`);
  const [failed] = await h.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM audit_events WHERE event = 'login_failed'",
  );
  assert.ok(failed.n <= 5, `${failed.n} passwords checked`);
});

limitTest(
  "the per-address count never passes its limit under parallel requests",
  async (h) => {
    const csrf = await preLogin(h);
    const results = await Promise.all(
      Array.from(
        { length: 16 },
        (_, i) =>
          attempt(h, csrf, { email: `u${i}@example.test`, password: "wrong", ip: "10.2.0.1" }),
      ),
    );
    const s = statuses(results);
    assert.ok(count(s, 401) <= 6, `checked ${count(s, 401)} from one address: ${s}`);
    assert.equal(count(s, 401) + count(s, 429), 16, `${s}`);
  },
  { security: { loginFailuresPerIp: 6, loginFailuresPerEmail: 100 } },
);

limitTest(
  "past the limit a correct password waits a growing delay, never the window",
  async (h) => {
    const csrf = await preLogin(h);
    const wrong = (ip = "10.3.0.1") =>
      attempt(h, csrf, { email: USER.email, password: "wrong", ip });
    const right = (ip = "10.3.0.9") =>
      attempt(h, csrf, { email: USER.email, password: USER.password, ip });
    for (let i = 0; i < 5; i++) assert.equal((await wrong()).status, 401, `failure ${i + 1}`);
    // The sixth attempt comes too soon: refused, with the seconds to wait.
    const early = await right();
    assert.equal(early.status, 429);
    const wait = Number(early.headers.get("Retry-After"));
    assert.ok(wait >= 1 && wait <= 30, `Retry-After ${wait}`);
    // Refused attempts, however many, neither count nor push the wait further.
    for (let i = 0; i < 30; i++) assert.equal((await wrong("10.3.0.2")).status, 429);
    later(h, wait * 1000);
    // The attacker's checks double the wait each time, up to 30 s; the admin still gets in.
    for (let i = 0; i < 8; i++) {
      const r = await wrong();
      assert.equal(r.status, 401, `check ${i} after its wait`);
      const again = await wrong();
      assert.equal(again.status, 429);
      const s = Number(again.headers.get("Retry-After"));
      assert.ok(s >= 1 && s <= 30, `Retry-After ${s} after ${i + 6} failures`);
      later(h, s * 1000);
    }
    assert.equal((await right()).status, 303, "the admin, 30 s at most after the last guess");
  },
);

limitTest("a wrong password every three minutes does not keep the admin out", async (h) => {
  const csrf = await preLogin(h);
  for (let round = 0; round < 12; round++) {
    const r = await attempt(h, csrf, { email: USER.email, password: "guess", ip: "10.4.0.1" });
    assert.equal(r.status, 401, `guess ${round}: each is checked, none locks the account`);
    later(h, 3 * 60_000);
  }
  later(h, -2 * 60_000); // a minute after the last guess
  const admin = await attempt(h, csrf, {
    email: USER.email,
    password: USER.password,
    ip: "10.4.0.2",
  });
  assert.equal(admin.status, 303);
});

limitTest("a flood of refused attempts writes no row", async (h) => {
  const csrf = await preLogin(h);
  for (let i = 0; i < 5; i++) {
    await attempt(h, csrf, { email: USER.email, password: "wrong", ip: "10.5.0.1" });
  }
  const before = await rowCounts(h);
  for (let i = 0; i < 60; i++) {
    const r = await attempt(h, csrf, {
      email: USER.email,
      password: "x".repeat(300) + i,
      ip: `10.5.1.${i}`,
    });
    assert.equal(r.status, 429);
  }
  assert.deepEqual(await rowCounts(h), before);
});

limitTest(
  "X-Forwarded-For names the client only when TRUSTED_PROXIES names the proxy",
  async (h) => {
    const csrf = await preLogin(h);
    const via = (ip: string, client: string, email: string) =>
      attempt(h, csrf, {
        email,
        password: "wrong",
        ip,
        headers: { "X-Forwarded-For": `203.0.113.7, ${client}` },
      });
    // No TRUSTED_PROXIES: the header is the client's own words; the socket address counts.
    for (let i = 0; i < 3; i++) {
      assert.equal((await via("10.6.0.1", `198.51.100.${i}`, `a${i}@x.test`)).status, 401);
    }
    assert.equal((await via("10.6.0.1", "198.51.100.9", "a9@x.test")).status, 429);

    // A proxy in TRUSTED_PROXIES: each client behind it is counted on its own.
    h.deps.trustedProxies = ["10.7.0.0/16", "::1"];
    h.app = createApp(h.deps);
    for (let i = 0; i < 3; i++) {
      assert.equal((await via("10.7.0.1", "198.51.100.20", `b${i}@x.test`)).status, 401);
    }
    assert.equal((await via("10.7.0.1", "198.51.100.20", "b9@x.test")).status, 429);
    assert.equal(
      (await via("10.7.0.1", "198.51.100.21", "c1@x.test")).status,
      401,
      "another client",
    );
    // A connection from outside the list is not believed, whatever it says.
    for (let i = 0; i < 3; i++) {
      assert.equal((await via("10.8.0.1", `198.51.100.${30 + i}`, `d${i}@x.test`)).status, 401);
    }
    assert.equal((await via("10.8.0.1", "198.51.100.40", "d9@x.test")).status, 429);
  },
  { security: { loginFailuresPerIp: 3, loginFailuresPerEmail: 100 } },
);
