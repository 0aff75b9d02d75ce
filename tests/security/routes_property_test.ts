/**
 * Every route of the app, walked with random and hostile values in every query, path and form
 * parameter and JSON field (NUL, lone surrogates, huge numbers, dates far in the past and
 * future, megabyte strings, lists where one value goes), logged in with a session and its CSRF
 * token and with an API token: no answer is a 5xx, none shows a stack trace, and the app
 * reports no unexpected error. The table below describes each route's parameters; a test checks
 * it covers every route the app has, so a new route must be described here.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { eml, type Harness, harness, outboxIdOf, seedMessage, USER } from "../routes/support.ts";
import { createUser } from "../../src/store/users.ts";
import { hashPassword } from "../../src/auth/password_hash.ts";

/** The parameters one route reads. `:id` path parameters are filled from `ids`. */
interface RouteParams {
  query?: string[];
  form?: string[];
  json?: string[];
}

const MESSAGE_QUERY = ["account", "kind", "reply", "since", "until", "unparsed", "q", "after"];
const AUDIT_QUERY = ["event", "account", "message", "since", "until", "after", "limit"];
const ACCOUNT_FORM = [
  "name",
  "address",
  "display_name",
  "enabled",
  "imap_host",
  "imap_port",
  "imap_tls",
  "imap_user",
  "after_processing",
  "after_folder",
  "imap_pass",
  "mailboxes",
  "smtp_host",
  "smtp_port",
  "smtp_tls",
  "smtp_user",
  "smtp_pass",
  "budget_custom",
  "budget_per_minute",
  "budget_per_day",
];
const RULE_FORM = [
  "rule_id",
  "view",
  "definition",
  "message_id",
  "message_ref",
  "days",
  "name",
  "priority",
  "active_from",
  "when.r.0.field",
  "when.r.0.op",
  "when.r.0.arg",
  "when.r.0.value",
  "when.any.0.g",
  "when.any.0.r.0.field",
  "when.not.g",
  "when.s",
  "when.s.timezone",
  "when.s.hours.mon",
  "when.s.calendars",
  "reply.text",
  "reply.cc",
  "reply.variants.en.text",
  "limits.window_seconds",
  "limits.breakers.0.max",
];

/** Every route as `METHOD path` (the path as Hono lists it) with the parameters it reads. */
/** The fields of an account's reply settings, in the form and in the API. */
const ACCOUNT_SETTINGS = [
  "time_zone",
  "authserv_ids",
  "check_auth",
  "check_spam",
  "trusted_forwarders",
  "limits",
  "keep_raw_days",
  "keep_messages_days",
];

const ROUTES: Record<string, RouteParams> = {
  "GET /healthz": {},
  "GET /static/:name": {},
  "GET /login": { query: ["next"] },
  "POST /login": { form: ["email", "password", "next"] },
  "GET /login/code": {},
  "POST /login/code": { form: ["code"] },
  "POST /logout": {},
  "POST /lang": { form: ["lang", "back"] },
  "GET /setup": { query: ["token"] },
  "POST /setup": { form: ["token", "email", "password", "password_confirm"] },
  "GET /": {},
  "GET /overview": {},
  "GET /messages": { query: [...MESSAGE_QUERY, "limit", "cursor"] },
  "GET /messages/export": { query: [...MESSAGE_QUERY, "format"] },
  "POST /messages/:id{[0-9]+}/images": { form: ["images"] },
  "GET /messages/:id{[0-9]+}": { query: ["images"] },
  "POST /messages/:id{[0-9]+}/classification": {
    form: ["kind", "original_from_address", "original_from_name"],
  },
  "GET /messages/:id{[0-9]+}/raw": {},
  "GET /messages/:id{[0-9]+}/html": { query: ["images"] },
  "GET /outbox": { query: ["status", "account", "before", "limit"] },
  "GET /outbox/export": { query: ["status", "account", "format"] },
  "POST /outbox/:id{[0-9]+}/retry": {},
  "POST /outbox/:id{[0-9]+}/cancel": {},
  "POST /outbox/:id{[0-9]+}/settle": { form: ["choice"] },
  "GET /audit": { query: AUDIT_QUERY },
  "GET /audit/export.csv": { query: AUDIT_QUERY },
  "GET /audit/export.json": { query: AUDIT_QUERY },
  "GET /rules": {},
  "GET /rules/new": { query: ["view"] },
  "GET /rules/:id{[0-9]+}": { query: ["view"] },
  "POST /rules/form": { form: [...RULE_FORM, "edit"] },
  "GET /rules/export": {},
  "GET /rules/:id{[0-9]+}/export": {},
  "GET /rules/import": {},
  "POST /rules/import": { form: ["file", "text"] },
  "POST /rules": { form: RULE_FORM },
  "POST /rules/:id{[0-9]+}": { form: RULE_FORM },
  "POST /rules/:id{[0-9]+}/enabled": { form: ["enabled"] },
  "POST /rules/:id{[0-9]+}/move": { form: ["direction"] },
  "POST /rules/:id{[0-9]+}/delete": {},
  "GET /rules/:id{[0-9]+}/replay": {},
  "POST /rules/:id{[0-9]+}/replay": { form: [...MESSAGE_QUERY, "confirm"] },
  "POST /rules/preview": { form: RULE_FORM },
  "POST /rules/dry-run": { form: RULE_FORM },
  "GET /exceptions": {},
  "POST /exceptions": { form: ["pattern", "account"] },
  "POST /exceptions/:id{[0-9]+}/remove": {},
  "GET /accounts": {},
  "GET /accounts/new": {},
  "GET /accounts/:id{[0-9]+}": {},
  "POST /accounts": { form: ACCOUNT_FORM },
  "POST /accounts/:id{[0-9]+}": { form: ACCOUNT_FORM },
  "POST /accounts/:id{[0-9]+}/test": {},
  "POST /accounts/:id{[0-9]+}/delete": { form: ["messages", "confirm"] },
  "GET /tokens": {},
  "POST /tokens": { form: ["name", "scopes", "expires"] },
  "POST /tokens/:id{[0-9]+}/revoke": {},
  "GET /webhooks": {},
  "POST /webhooks": { form: ["url", "events", "account_id", "description", "enabled"] },
  "GET /webhooks/:id{[0-9]+}": {},
  "POST /webhooks/:id{[0-9]+}": { form: ["url", "events", "account_id", "description", "enabled"] },
  "POST /webhooks/:id{[0-9]+}/enabled": { form: ["enabled"] },
  "POST /webhooks/:id{[0-9]+}/delete": {},
  "POST /webhooks/deliveries/:id{[0-9]+}/resend": {},
  "GET /users": {},
  "POST /users": { form: ["email", "role", "password"] },
  "POST /users/:id{[0-9]+}": { form: ["role", "disabled"] },
  "POST /users/:id{[0-9]+}/password": { form: ["password"] },
  "POST /users/:id{[0-9]+}/totp-off": {},
  "POST /users/:id{[0-9]+}/remove": {},
  "GET /password": {},
  "POST /password": { form: ["current", "password", "password_confirm"] },
  "GET /security": {},
  "POST /security/totp": {},
  "POST /security/totp/confirm": { form: ["code"] },
  "POST /security/totp/off": { form: ["current"] },
  "GET /breakers": {},
  "POST /breakers/:id{[0-9]+}/reset": {},
  "POST /breakers/reset": {},
  "GET /accounts/:id{[0-9]+}/settings": {},
  "POST /accounts/:id{[0-9]+}/settings": { form: ACCOUNT_SETTINGS },
  "POST /rules/:id{[0-9]+}/attachments": { form: ["file"] },
  "POST /rules/:id{[0-9]+}/attachments/:file{[0-9]+}/delete": {},
  "GET /api/v1/breakers": { query: ["open"] },
  "POST /api/v1/breakers/:id/reset": {},
  "POST /api/v1/breakers/reset": {},
  "GET /retention": {},
  "POST /retention/audit": { form: ["keep_audit_days"] },
  "POST /retention/purge": {},
  "POST /retention/erase": { form: ["address", "confirm"] },
  "GET /api/v1/retention": {},
  "PUT /api/v1/retention": { json: ["keep_audit_days"] },
  "POST /api/v1/purge": { json: ["dry_run"] },
  "POST /api/v1/erase": { json: ["address", "dry_run"] },
  "GET /api/v1/accounts/:id/settings": {},
  "PATCH /api/v1/accounts/:id/settings": { json: ACCOUNT_SETTINGS },
  "GET /api/v1/rules/:id/attachments": {},
  "POST /api/v1/rules/:id/attachments": { form: ["file"] },
  "DELETE /api/v1/rules/:id/attachments/:file": {},
  "GET /metrics": {},
  "GET /api/v1/messages": { query: [...MESSAGE_QUERY, "limit", "cursor"] },
  "GET /api/v1/messages/export": { query: [...MESSAGE_QUERY, "format"] },
  "GET /api/v1/messages/:id": {},
  "GET /api/v1/messages/:id/raw": {},
  "GET /api/v1/outbox": { query: ["status", "account", "before", "limit"] },
  "GET /api/v1/outbox/export": { query: ["status", "account", "format"] },
  "POST /api/v1/outbox/:id/retry": {},
  "POST /api/v1/outbox/:id/cancel": {},
  "POST /api/v1/outbox/:id/settle": { json: ["choice"] },
  "GET /api/v1/audit": { query: AUDIT_QUERY },
  "GET /api/v1/rules": {},
  "POST /api/v1/rules": { json: ["definition", "name", "when", "reply", "enabled", "priority"] },
  "PUT /api/v1/rules/order": { json: ["ids"] },
  "POST /api/v1/rules/dry-run": { json: ["definition", "days", "replaces_id"] },
  "POST /api/v1/rules/preview": { json: ["definition", "message_id"] },
  "POST /api/v1/rules/import": { json: ["name", "when", "reply", "ignore", "enabled"] },
  "GET /api/v1/rules/:id": {},
  "PUT /api/v1/rules/:id": { json: ["definition", "name", "when", "reply", "enabled"] },
  "POST /api/v1/rules/:id/enabled": { json: ["enabled"] },
  "POST /api/v1/rules/:id/replay": { json: [...MESSAGE_QUERY, "dry_run", "confirm"] },
  "DELETE /api/v1/rules/:id": {},
  "GET /api/v1/never-answer": {},
  "POST /api/v1/never-answer": { json: ["pattern", "account_id"] },
  "DELETE /api/v1/never-answer/:id": {},
  "GET /api/v1/webhooks": {},
  "POST /api/v1/webhooks": { json: ["url", "events", "account_id", "description", "enabled"] },
  "PUT /api/v1/webhooks/:id{[0-9]+}": {
    json: ["url", "events", "account_id", "description", "enabled"],
  },
  "DELETE /api/v1/webhooks/:id{[0-9]+}": {},
  "GET /api/v1/webhooks/deliveries": { query: ["endpoint_id", "status", "limit"] },
  "POST /api/v1/webhooks/deliveries/:id{[0-9]+}/resend": {},
  "GET /api/v1/accounts": {},
  "GET /api/v1/accounts/:id": {},
  "POST /api/v1/accounts": { json: ACCOUNT_FORM },
  "PUT /api/v1/accounts/:id": { json: ACCOUNT_FORM },
  "POST /api/v1/accounts/:id/disable": {},
  "POST /api/v1/accounts/:id/enable": {},
  "DELETE /api/v1/accounts/:id": { query: ["messages"] },
  "PUT /api/v1/accounts/:id/after_processing": { json: ["mode", "folder"] },
  "POST /api/v1/accounts/:id/test": {},
  "PUT /api/v1/accounts/:id/send_budget": { json: ["per_minute", "per_day", "default"] },
  "GET /api/v1/stats": {},
  "GET /api/v1/overview": {},
};

/** Routes that end the session they are called with: walked last. */
const LAST = new Set(["POST /logout"]);

const MEGABYTE = "x".repeat(1 << 20);

/** Text meant to break a parser, a query or a date. */
const hostileText = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      "\u0000",
      "a\u0000b",
      "\ud800",
      "x\udfffy",
      "\ud83d\ude00",
      "",
      " ",
      "0",
      "-1",
      "1.5",
      "1e3",
      "1e20",
      "0x10",
      "2147483647",
      "2147483648",
      "99999999999999999999",
      "-9223372036854775809",
      "NaN",
      "Infinity",
      "0000-01-01",
      "1969-12-31",
      "9999-12-31",
      "10000-01-01",
      "275760-09-14",
      "-271821-04-19",
      "2026-02-31",
      "2026-13-45",
      "99999999999999999.1",
      "-99999999999999999.99999999999999",
      "forwarded",
      "direct",
      "failed",
      "sent",
      "send_again",
      "up",
      "1",
      "on",
      "true",
      "'; DROP TABLE messages; --",
      "%",
      "\\",
      '"',
      "<script>alert(1)</script>",
      "../../etc/passwd",
      "{{subject}}",
      "{{",
      "a@b.test",
      "\r\nX-Injected: 1",
      "\u202e",
    ),
  },
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom("\u0000", "\ud800", "a", "\udc00") }) },
  { weight: 2, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String) },
  { weight: 2, arbitrary: fc.double().map(String) },
  {
    weight: 2,
    arbitrary: fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true })
      .map((d) => d.toISOString().slice(0, 10)),
  },
  { weight: 1, arbitrary: fc.constant(MEGABYTE) },
);

/** One value, or several where one goes. */
const hostileValue = fc.oneof(
  { weight: 5, arbitrary: hostileText.map((v) => [v]) },
  { weight: 1, arbitrary: fc.array(hostileText, { minLength: 2, maxLength: 3 }) },
);

/** A path id: real ones, the edges of the 32-bit columns, and what is not an id. */
const hostileId = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("1", "2", "3") },
  fc.constantFrom("0", "2147483647", "2147483648", "99999999999999999999"),
  fc.constantFrom("-1", "1e3", "0x10", "1.5", "%00", "%ED%A0%80", "a"),
  fc.nat().map(String),
  fc.bigInt({ min: 0n, max: 10n ** 25n }).map(String),
);

/** A JSON value in a field: scalars of every type, lists, objects, rule-shaped objects. */
const hostileJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { weight: 4, arbitrary: hostileText },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        0,
        1,
        -1,
        1.5,
        1e20,
        2 ** 31,
        2 ** 53 + 2,
        -(2 ** 63),
        Number.MAX_VALUE,
        true,
        false,
        null,
      ),
    },
    { weight: 1, arbitrary: fc.integer() },
    { weight: 1, arbitrary: fc.array(tie("value"), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.dictionary(hostileText, tie("value"), { maxKeys: 3 }) },
    { weight: 2, arbitrary: tie("rule") },
  ),
  rule: fc.record({
    name: fc.oneof(fc.constant("eco"), hostileText),
    enabled: fc.oneof(fc.boolean(), tie("value")),
    when: fc.oneof(
      fc.record({ kind: fc.constantFrom("direct", "forwarded") }),
      fc.dictionary(
        fc.constantFrom("kind", "from", "subject_contains", "body_regex", "header", "account"),
        fc.oneof(hostileText, fc.array(hostileText, { maxLength: 2 })),
        { maxKeys: 3 },
      ),
    ),
    reply: fc.record({
      to: fc.constantFrom("sender", "original_sender"),
      subject: hostileText,
      text: hostileText,
    }),
  }, { requiredKeys: ["name", "when", "reply"] }),
})).value;

/** One request: path ids, query, form or JSON fields, and whether htmx asks for a fragment. */
interface Probe {
  ids: string[];
  query: [string, string[]][];
  form: [string, string[]][];
  json: [string, unknown][];
  rawBody: string | null;
  fragment: boolean;
}

function probeOf(params: RouteParams): fc.Arbitrary<Probe> {
  const fields = (names: string[] | undefined) =>
    fc.subarray(names ?? []).chain((chosen) =>
      fc.tuple(...chosen.map((n) => hostileValue.map((v) => [n, v] as [string, string[]])))
    );
  const json = fc.subarray(params.json ?? []).chain((chosen) =>
    fc.tuple(...chosen.map((n) => hostileJson.map((v) => [n, v] as [string, unknown])))
  );
  return fc.record({
    ids: fc.array(hostileId, { minLength: 1, maxLength: 1 }),
    query: fields(params.query),
    form: fields(params.form),
    json,
    rawBody: fc.oneof(
      { weight: 8, arbitrary: fc.constant(null) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('{"a":', "[]", "null", '"\\u0000"', '{"definition":"\\ud800"}'),
      },
    ),
    fragment: fc.boolean(),
  });
}

/**
 * Frames of a stack trace, or an error naming a source file. Bounded repetitions: an answer may
 * echo a megabyte of the request, and `\w*Error` would backtrack over all of it at each place.
 */
const STACK = [
  /^[ \t]*at [^\n]{0,500}?(?::\d+:\d+\)?$|file:\/\/)/m,
  /\b\w{0,40}Error: [^\n]{0,500}?(?:file:\/\/|\/[\w.-]{1,100}\.(?:ts|tsx|js|mjs)\b)/,
];

interface World {
  h: Harness;
  token: string;
}

async function world(kind: "pglite" | "postgres"): Promise<World> {
  const h = await harness({ kind });
  await h.login();
  for (let i = 0; i < 3; i++) {
    const id = await seedMessage(
      h.db,
      eml({ subject: `Pedido ${i}`, html: i === 0 ? "<p>oi <img src=x></p>" : undefined }),
      {
        receivedAt: new Date(Date.parse("2026-03-01T00:00:00Z") + i * 60_000),
        decision: { outcome: "reply", ruleName: "ack", reason: null, detail: null, trail: [] },
        outbox: { status: ["failed", "unknown", "pending"][i] },
      },
    );
    await outboxIdOf(h.db, id);
  }
  const token = await h.apiToken("walker");
  for (const name of ["ack", "later"]) {
    const res = await call(h, token, "POST", "/api/v1/rules", {
      rawBody: JSON.stringify({
        name,
        when: { kind: "direct" },
        reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos." },
      }),
    });
    assert.equal(res.status, 201, await res.text());
  }
  return { h, token };
}

async function call(
  h: Harness,
  token: string,
  method: string,
  path: string,
  o: { rawBody?: string | null; form?: URLSearchParams; fragment?: boolean },
): Promise<Response> {
  const headers = new Headers();
  if (path.startsWith("/api/") || path === "/metrics") {
    headers.set("Authorization", `Bearer ${token}`);
  } else {
    headers.set("X-CSRF-Token", h.csrf);
  }
  if (o.fragment) headers.set("HX-Request", "true");
  let body: BodyInit | undefined;
  if (o.form) {
    body = o.form;
  } else if (o.rawBody !== undefined && o.rawBody !== null) {
    headers.set("Content-Type", "application/json");
    body = o.rawBody;
  }
  // Another address than the harness's own login, so that login throttling never locks it out.
  return await h.request(path, { method, headers, body, ip: "192.0.2.7" });
}

function requestOf(route: string, p: Probe, csrf: string) {
  const [method, template] = route.split(" ");
  let path = template.replace(/:(id|name|file)(\{[^}]*\})?/g, () => p.ids[0]);
  const q = new URLSearchParams();
  for (const [name, values] of p.query) for (const v of values) q.append(name, v);
  if (q.size) path += `?${q}`;
  let form: URLSearchParams | undefined;
  let rawBody: string | null = null;
  if (method !== "GET" && method !== "DELETE") {
    if (route.includes(" /api/")) {
      rawBody = p.rawBody ?? JSON.stringify(Object.fromEntries(p.json));
    } else {
      form = new URLSearchParams([["_csrf", csrf]]);
      for (const [name, values] of p.form) for (const v of values) form.append(name, v);
    }
  }
  return { method, path, form, rawBody, fragment: p.fragment };
}

async function walk(w: World, route: string, numRuns: number, seed?: number) {
  const params = ROUTES[route];
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(probeOf(params), async (probe) => {
      const r = requestOf(route, probe, w.h.csrf);
      const t0 = performance.now();
      const res = await call(w.h, w.token, r.method, r.path, r);
      if (Deno.env.get("WALK_TRACE") && performance.now() - t0 > 1000) {
        console.log("slow", Math.round(performance.now() - t0), r.method, r.path.slice(0, 300));
      }
      const body = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const what = `${r.method} ${r.path.slice(0, 200)} → ${res.status}`;
      assert.ok(res.status < 500, `${what}\n${body.slice(0, 500)}`);
      for (const frame of STACK) {
        assert.doesNotMatch(body, frame, `${what}: a stack trace in the answer`);
      }
      assert.deepEqual(w.h.errors, [], `${what}: the app reported an unexpected error`);
    }),
    { numRuns, seed, endOnFailure: true },
  );
  if (Deno.env.get("WALK_TRACE")) console.log(route, JSON.stringify([...statuses]));
  // A walked route may have revoked the token or ended the session: start the next one fresh.
  const alive = await w.h.request("/messages");
  await alive.body?.cancel();
  if (alive.status !== 200) {
    // The walked route may also have changed the walker's own password, role, access or second
    // factor (the users and security pages): put them back, as an admin with a shell would.
    const hash = await hashPassword(USER.password);
    const restored = await w.h.db.query(
      `UPDATE users SET password_hash = $2, role = 'admin', disabled_at = NULL,
         totp_secret = NULL, totp_enabled_at = NULL
       WHERE email = $1 RETURNING 1 AS ok`,
      [USER.email, hash],
    );
    if (restored.length === 0) await createUser(w.h.db, USER.email, hash, new Date());
    await w.h.login();
  }
  const api = await call(w.h, w.token, "GET", "/api/v1/stats", {});
  await api.body?.cancel();
  if (api.status !== 200) w.token = await w.h.apiToken(`walker-${crypto.randomUUID()}`);
}

function appRoutes(h: Harness): string[] {
  const seen = new Set<string>();
  for (const r of h.app.routes) if (r.method !== "ALL") seen.add(`${r.method} ${r.path}`);
  return [...seen];
}

function ordered(routes: string[]): string[] {
  return [...routes.filter((r) => !LAST.has(r)), ...routes.filter((r) => LAST.has(r))];
}

Deno.test("route walk: the table describes every route the app has, and no more", async () => {
  const h = await harness();
  try {
    const actual = appRoutes(h).sort();
    assert.deepEqual(
      actual.filter((r) => !(r in ROUTES)),
      [],
      "routes missing from ROUTES in this file (describe their parameters)",
    );
    assert.deepEqual(
      Object.keys(ROUTES).filter((r) => !actual.includes(r)),
      [],
      "routes in ROUTES the app no longer has",
    );
  } finally {
    await h.close();
  }
});

for (const [kind, numRuns] of [["pglite", 60], ["postgres", 12]] as const) {
  Deno.test(`route walk: hostile values never reach a 5xx or a stack trace [${kind}]`, async () => {
    const w = await world(kind);
    try {
      for (const route of ordered(appRoutes(w.h).filter((r) => r in ROUTES))) {
        const t0 = performance.now();
        await walk(w, route, numRuns);
        if (Deno.env.get("WALK_TRACE")) {
          console.log(route, Math.round(performance.now() - t0), "ms");
        }
      }
    } finally {
      await w.h.close();
    }
  });
}
