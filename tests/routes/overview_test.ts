/** `/overview` and `GET /api/v1/overview`: the counts, the charts and the refresh, for known data. */
import assert from "node:assert/strict";
import {
  csrfFrom,
  eml,
  type Harness,
  harness,
  Jar,
  NOW,
  outboxIdOf,
  seedMessage,
  USER,
} from "./support.ts";

const HX = { "HX-Request": "true" };
const suppressed = (reason: string) => ({
  outcome: "suppressed" as const,
  ruleName: "ack",
  reason,
  detail: "test",
  trail: [],
});

/**
 * Known data around NOW (2026-03-10 12:00 UTC): two messages today (one unparsed the day before),
 * one four days ago, one in February, one in January (outside every period).
 */
async function seed(h: Harness) {
  const at = (iso: string) => new Date(iso);
  await seedMessage(h.db, eml({ subject: "today forwarded" }), {
    receivedAt: at("2026-03-10T11:30:00Z"),
    kind: "forwarded",
    decision: suppressed("auto_submitted"),
  });
  const sent = await seedMessage(h.db, eml({ subject: "today direct" }), {
    receivedAt: at("2026-03-10T09:10:00Z"),
    kind: "direct",
    outbox: { status: "sent" },
  });
  await h.db.query("UPDATE outbox SET sent_at = '2026-03-10T09:15:00Z' WHERE id = $1", [
    await outboxIdOf(h.db, sent),
  ]);
  await seedMessage(h.db, eml({ subject: "unparsed" }), {
    receivedAt: at("2026-03-09T23:00:00Z"),
    failParse: "broken",
  });
  await seedMessage(h.db, eml({ subject: "four days ago" }), {
    receivedAt: at("2026-03-06T08:00:00Z"),
    kind: "direct",
    outbox: { status: "unknown" },
  });
  await seedMessage(h.db, eml({ subject: "february" }), {
    receivedAt: at("2026-02-20T10:00:00Z"),
    kind: "forwarded",
    decision: suppressed("rate_limited"),
  });
  const old = await seedMessage(h.db, eml({ subject: "january" }), {
    receivedAt: at("2026-01-02T10:00:00Z"),
    kind: "direct",
    outbox: { status: "sent" },
  });
  await h.db.query("UPDATE outbox SET sent_at = '2026-01-02T10:01:00Z' WHERE id = $1", [
    await outboxIdOf(h.db, old),
  ]);
  await h.db.query(
    `UPDATE accounts SET last_sync_at = $1::timestamptz - interval '5 minutes',
       consecutive_failures = 2, last_error = 'IMAP login refused'`,
    [NOW.toISOString()],
  );
  await h.db.query(
    `INSERT INTO reply_breakers (account_id, recipient, tripped_at, open_until, detail)
     SELECT id, 'ana@cliente.test', $1::timestamptz, $1::timestamptz + interval '1 hour', 'loop'
       FROM accounts
     UNION ALL SELECT id, 'bia@cliente.test', $2::timestamptz,
       $2::timestamptz + interval '1 hour', 'loop' FROM accounts
     UNION ALL SELECT id, '', $2::timestamptz, $2::timestamptz + interval '1 hour', 'loop'
       FROM accounts`,
    // Bia's breaker and the account's tripped two hours ago with a one-hour cool-down: closed.
    [NOW.toISOString(), new Date(NOW.getTime() - 2 * 3_600_000).toISOString()],
  );
}

/** The three period cells of a row of the given table. */
function periods(html: string, table: string, row: string): number[] {
  const t = new RegExp(`<table[^>]*id="${table}"[\\s\\S]*?</table>`).exec(html);
  assert.ok(t, `no table ${table} in:\n${html.slice(0, 2000)}`);
  const r = new RegExp(`<tr data-row="${row}">([\\s\\S]*?)</tr>`).exec(t[0]);
  assert.ok(r, `no row ${row} in table ${table}:\n${t[0]}`);
  return [...r[1].matchAll(/data-period="\w+">([\d ]+)</g)].map((m) => Number(m[1]));
}

function bars(html: string, chart: string, series: string): number[] {
  const svg = new RegExp(`<figure class="chart" id="${chart}">([\\s\\S]*?)</svg>`).exec(html);
  assert.ok(svg, `no chart ${chart}`);
  return [...svg[1].matchAll(new RegExp(`data-series="${series}" data-n="(\\d+)"`, "g"))]
    .map((m) => Number(m[1]));
}

Deno.test("the overview counts messages and replies today, in 7 and in 30 days", async () => {
  const h = await harness();
  try {
    await seed(h);
    await h.login();
    const res = await h.request("/overview");
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /<title>Visão geral · Carteiro<\/title>/);
    assert.match(html, /<a href="\/overview" aria-current="page">Visão geral<\/a>/);
    assert.deepEqual(periods(html, "overview-messages", "all"), [2, 4, 5]);
    assert.deepEqual(periods(html, "overview-messages", "forwarded"), [1, 1, 2]);
    assert.deepEqual(periods(html, "overview-messages", "direct"), [1, 2, 2]);
    assert.deepEqual(periods(html, "overview-replies", "sent"), [1, 1, 1]);
    assert.deepEqual(periods(html, "overview-replies", "suppressed-auto_submitted"), [1, 1, 1]);
    assert.deepEqual(periods(html, "overview-replies", "suppressed-rate_limited"), [0, 0, 1]);
    // Waiting for a person: linked to the outbox filtered by that status.
    assert.match(
      html,
      /<p id="overview-waiting" data-n="1"><a href="\/outbox\?status=unknown" class="error">1 respostas/,
    );
    // The account's health: lag, failures, the last error, the breaker.
    const acct = /<table class="list" id="overview-accounts">[\s\S]*?<\/table>/.exec(html)?.[0];
    assert.ok(acct, "no accounts table");
    assert.match(acct, /data-lag="300">há 5 minutos/);
    assert.match(acct, /<td class="num error">2<div class="sub">IMAP login refused/);
    assert.match(acct, /1 destinatários retidos/, "Ana's breaker is open; Bia's cooled down");
    assert.doesNotMatch(acct, /conta inteira/, "the account's breaker cooled down");
    assert.match(acct, /sem informação \(nenhuma instância/, "no IDLE report: said so");
  } finally {
    await h.close();
  }
});

Deno.test("the charts are SVG drawn on the server, with their numbers as text", async () => {
  const h = await harness();
  try {
    await seed(h);
    await h.login();
    const html = await (await h.request("/overview")).text();
    assert.doesNotMatch(
      html,
      /<script(?! src="\/static\/(?:htmx\.min|time_zone)\.js")/,
      "no chart script",
    );
    assert.match(
      html,
      /<svg viewBox="0 0 720 160" role="img" aria-labelledby="chart-hourly-title chart-hourly-desc"/,
    );
    assert.match(
      html,
      /<title id="chart-hourly-title">Mensagens e respostas por hora, últimas 48 horas \(UTC\)<\/title>/,
    );
    // 48 hours from 2026-03-08 13:00 UTC: the unparsed message at 23:00 on the 9th is hour 34,
    // the two of today hours 44 (09:10) and 46 (11:30); the sent reply at 09:15, hour 44.
    const hourly = bars(html, "chart-hourly", "messages");
    assert.equal(hourly.length, 48);
    const expected = Array(48).fill(0);
    expected[34] = 1;
    expected[44] = 1;
    expected[46] = 1;
    assert.deepEqual(hourly, expected);
    assert.equal(bars(html, "chart-hourly", "sent").indexOf(1), 44);
    assert.equal(bars(html, "chart-hourly", "suppressed").indexOf(1), 46);
    assert.match(html, /<title>03-10 11h: Mensagens 1<\/title>/);
    // 30 days from 2026-02-09: the 20th of February is day 11; the 6th of March day 25.
    const daily = bars(html, "chart-daily", "messages");
    assert.equal(daily.length, 30);
    assert.deepEqual(
      daily.map((n, i) => [i, n]).filter(([, n]) => n > 0),
      [[11, 1], [25, 1], [28, 1], [29, 2]],
    );
    assert.deepEqual(bars(html, "chart-daily", "suppressed").reduce((a, b) => a + b), 2);
    assert.match(html, /<desc id="chart-daily-desc">Mensagens: 5; Enviadas: 1; Suprimidas: 2;/);
    // The numbers as a table too.
    assert.match(
      html,
      /<th scope="row">02-20<\/th><td class="num">1<\/td><td class="num">0<\/td><td class="num">1<\/td>/,
    );
  } finally {
    await h.close();
  }
});

Deno.test("htmx gets the block alone, with its 30-second trigger; / and login land here", async () => {
  const h = await harness();
  try {
    await seed(h);
    const anonymous = await h.request("/");
    assert.equal(anonymous.status, 302);
    // Logging in without `next` lands on the overview; an explicit `next` still wins.
    for (const [next, landing] of [[null, "/overview"], ["/outbox", "/outbox"]]) {
      const form = await h.request("/login");
      const fields: Record<string, string> = {
        _csrf: csrfFrom(await form.text()),
        email: USER.email,
        password: USER.password,
      };
      if (next) fields.next = next;
      const res = await h.request("/login", { method: "POST", body: new URLSearchParams(fields) });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get("Location"), landing);
      h.jar = new Jar(); // logged out again
    }
    await h.login();
    const root = await h.request("/");
    assert.equal(root.status, 302);
    assert.equal(root.headers.get("Location"), "/overview");

    const frag = await h.request("/overview", { headers: HX });
    assert.match(frag.headers.get("Vary") ?? "", /HX-Request/);
    const html = await frag.text();
    assert.match(
      html,
      /^<div id="overview" hx-get="\/overview" hx-trigger="every 30s" hx-swap="outerHTML" data-at="2026-03-10T12:00:00.000Z">/,
    );
    assert.doesNotMatch(html, /<html|<h1/);

    // A new message shows at the next refresh.
    await seedMessage(h.db, eml({ subject: "new" }), {
      receivedAt: new Date("2026-03-10T11:59:00Z"),
      kind: "direct",
    });
    const again = await (await h.request("/overview", { headers: HX })).text();
    assert.deepEqual(periods(again, "overview-messages", "all"), [3, 5, 6]);

    const en = await h.request("/overview", {
      headers: { Cookie: `${h.jar.header()}; carteiro_lang=en` },
    });
    assert.match(await en.text(), /Messages and replies per day, last 30 days \(UTC\)/);
  } finally {
    await h.close();
  }
});

for (const kind of ["pglite", "postgres"] as const) {
  Deno.test(`GET /api/v1/overview: the same numbers as JSON [${kind}]`, async () => {
    const h = await harness({ kind });
    try {
      await seed(h);
      const token = await h.apiToken();
      const res = await h.request("/api/v1/overview", {
        headers: { Authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 200);
      const { data } = await res.json();
      assert.equal(data.at, "2026-03-10T12:00:00.000Z");
      assert.deepEqual(data.periods, {
        today: "2026-03-10T00:00:00.000Z",
        days_7: "2026-03-04T00:00:00.000Z",
        days_30: "2026-02-09T00:00:00.000Z",
      });
      assert.deepEqual(data.messages, {
        all: { today: 2, days_7: 4, days_30: 5 },
        forwarded: { today: 1, days_7: 1, days_30: 2 },
        direct: { today: 1, days_7: 2, days_30: 2 },
      });
      assert.deepEqual(data.replies, {
        sent: { today: 1, days_7: 1, days_30: 1 },
        suppressed: {
          auto_submitted: { today: 1, days_7: 1, days_30: 1 },
          rate_limited: { today: 0, days_7: 0, days_30: 1 },
        },
      });
      assert.equal(data.waiting, 1);
      assert.equal(data.accounts.length, 1);
      assert.equal(data.accounts[0].lag_seconds, 300);
      assert.equal(data.accounts[0].consecutive_failures, 2);
      assert.deepEqual(data.accounts[0].breakers, { account: false, recipients: 1 });
      assert.equal(data.accounts[0].idle, null);
      assert.equal(data.hourly.length, 48);
      assert.deepEqual(data.hourly[46], {
        start: "2026-03-10T11:00:00.000Z",
        messages: 1,
        sent: 0,
        suppressed: 1,
      });
      assert.equal(data.daily.length, 30);
      assert.deepEqual(data.daily[29], {
        start: "2026-03-10T00:00:00.000Z",
        messages: 2,
        sent: 1,
        suppressed: 1,
      });
    } finally {
      await h.close();
    }
  });
}
