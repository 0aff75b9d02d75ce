/**
 * Hostile input never reaches a 500: NUL bytes, dates PostgreSQL cannot hold, ids beyond the
 * 32-bit columns, JSON escapes the database refuses, non-integer numbers, repeated parameters
 * and megabyte strings each get a 422 naming the field (or a 404 for an id that cannot exist),
 * on pages and in the API, on both databases.
 */
import assert from "node:assert/strict";
import { eml, type Harness, harness, outboxIdOf, seedMessage } from "../routes/support.ts";
import { dataExceptionCode } from "../../routes/data_exception.ts";
import { createApp } from "../../routes/app.ts";

const KINDS = ["pglite", "postgres"] as const;

interface Setup {
  h: Harness;
  token: string;
  messageId: number;
  outboxId: number;
  ruleId: number;
}

async function setup(kind: (typeof KINDS)[number]): Promise<Setup> {
  const h = await harness({ kind });
  await h.login();
  const token = await h.apiToken();
  const messageId = await seedMessage(h.db, eml({ subject: "Pedido 9" }), {
    decision: { outcome: "reply", ruleName: "ack", reason: null, detail: null, trail: [] },
    outbox: { status: "failed" },
  });
  const outboxId = await outboxIdOf(h.db, messageId);
  const created = await api(h, token, "POST", "/api/v1/rules", {
    name: "ack",
    when: { kind: "direct" },
    reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos." },
  });
  assert.equal(created.status, 201, await created.clone().text());
  const ruleId = (await created.json()).data.id as number;
  return { h, token, messageId, outboxId, ruleId };
}

async function api(
  h: Harness,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  const headers = new Headers({ Authorization: `Bearer ${token}` });
  let payload: string | undefined;
  if (body !== undefined) {
    headers.set("Content-Type", "application/json");
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  return await h.app.request(`http://localhost${path}`, { method, headers, body: payload });
}

/** The status, and the body read once, with the request named for the failure message. */
async function answer(res: Response, what: string): Promise<{ status: number; body: string }> {
  const body = await res.text();
  assert.notEqual(res.status, 500, `${what}: 500\n${body.slice(0, 300)}`);
  return { status: res.status, body };
}

async function expect422(res: Response, what: string, field: string): Promise<void> {
  const { status, body } = await answer(res, what);
  assert.equal(status, 422, `${what}: ${status}\n${body.slice(0, 300)}`);
  assert.ok(
    body.includes(field),
    `${what}: the answer does not name ${field}:\n${body.slice(0, 300)}`,
  );
}

async function withSetup(kind: (typeof KINDS)[number], fn: (s: Setup) => Promise<void>) {
  const s = await setup(kind);
  try {
    await fn(s);
    assert.deepEqual(s.h.errors, [], "no unexpected error was reported");
  } finally {
    await s.h.close();
  }
}

for (const kind of KINDS) {
  Deno.test(`bad input: a NUL byte in a search or a text field is a 422 naming it [${kind}]`, () =>
    withSetup(kind, async ({ h, token, messageId }) => {
      await expect422(await h.request("/messages?q=a%00b"), "/messages q", "q");
      await expect422(
        await h.request("/messages?q=%00", { headers: { "HX-Request": "true" } }),
        "/messages q (fragment)",
        "q",
      );
      await expect422(await api(h, token, "GET", "/api/v1/messages?q=a%00b"), "API q", "q");
      await expect422(
        await h.post(`/messages/${messageId}/classification`, {
          kind: "forwarded",
          original_from_address: "cliente@externo.test",
          original_from_name: "Cli\u0000ente",
        }),
        "classification name",
        "original_from_name",
      );
      await expect422(await h.request("/audit?event=a%00"), "/audit event", "event");
    }));

  Deno.test(`bad input: dates PostgreSQL cannot hold are a 422 naming the field [${kind}]`, () =>
    withSetup(kind, async ({ h, token }) => {
      const pages = ["/messages", "/audit", "/audit/export.csv", "/audit/export.json"];
      const apis = ["/api/v1/messages", "/api/v1/audit"];
      for (
        const [field, value] of [
          ["since", "0000-01-01"],
          ["since", "-1"],
          ["until", "275760-09-14"],
          ["since", "1969-12-31"],
          ["until", "10000-01-01"],
          ["since", "2026-02-31"],
        ]
      ) {
        const q = `?${field}=${encodeURIComponent(value)}`;
        for (const p of pages) await expect422(await h.request(p + q), `${p}${q}`, field);
        for (const p of apis) await expect422(await api(h, token, "GET", p + q), `${p}${q}`, field);
      }
      // The last day a filter can name is accepted: the list simply holds everything before it.
      for (const p of pages) {
        const { status } = await answer(await h.request(`${p}?until=9999-12-31`), p);
        assert.equal(status, 200, `${p}?until=9999-12-31`);
      }
      for (const p of apis) {
        const { status } = await answer(await api(h, token, "GET", `${p}?until=9999-12-31`), p);
        assert.equal(status, 200, `${p}?until=9999-12-31`);
      }
    }));

  Deno.test(`bad input: an id that cannot exist is a 404 on every :id route [${kind}]`, () =>
    withSetup(kind, async ({ h, token }) => {
      const pageRoutes: [string, string][] = [
        ["GET", "/messages/ID"],
        ["GET", "/messages/ID/raw"],
        ["GET", "/messages/ID/html"],
        ["POST", "/messages/ID/classification"],
        ["POST", "/outbox/ID/retry"],
        ["POST", "/outbox/ID/cancel"],
        ["POST", "/outbox/ID/settle"],
        ["GET", "/rules/ID"],
        ["POST", "/rules/ID"],
        ["POST", "/rules/ID/enabled"],
        ["POST", "/rules/ID/move"],
        ["POST", "/rules/ID/delete"],
        ["GET", "/accounts/ID"],
        ["POST", "/accounts/ID"],
        ["POST", "/accounts/ID/test"],
        ["POST", "/tokens/ID/revoke"],
      ];
      const apiRoutes: [string, string][] = [
        ["GET", "/api/v1/messages/ID"],
        ["GET", "/api/v1/messages/ID/raw"],
        ["POST", "/api/v1/outbox/ID/retry"],
        ["POST", "/api/v1/outbox/ID/cancel"],
        ["POST", "/api/v1/outbox/ID/settle"],
        ["GET", "/api/v1/rules/ID"],
        ["PUT", "/api/v1/rules/ID"],
        ["POST", "/api/v1/rules/ID/enabled"],
        ["DELETE", "/api/v1/rules/ID"],
        ["GET", "/api/v1/accounts/ID"],
        ["POST", "/api/v1/accounts/ID/test"],
      ];
      const ids = ["2147483648", "99999999999999", "999999999999999", "0", "-1", "1e3", "0x10"];
      for (const id of ids) {
        for (const [method, route] of pageRoutes) {
          const path = route.replace("ID", encodeURIComponent(id));
          const res = method === "GET"
            ? await h.request(path)
            : await h.post(path, { enabled: "1", direction: "up", choice: "sent", kind: "direct" });
          const { status } = await answer(res, `${method} ${path}`);
          assert.equal(status, 404, `${method} ${path}`);
        }
        for (const [method, route] of apiRoutes) {
          const path = route.replace("ID", encodeURIComponent(id));
          const body = method === "GET" || method === "DELETE"
            ? undefined
            : { enabled: true, choice: "sent", name: "x", reply: { text: "x" } };
          const { status, body: text } = await answer(
            await api(h, token, method, path, body),
            path,
          );
          assert.equal(status, 404, `${method} ${path}: ${text}`);
          assert.equal(JSON.parse(text).error.code, "not_found");
        }
      }
      // Ids in a query string are checked the same way, and named.
      for (const id of ["2147483648", "0", "1e3"]) {
        await expect422(await h.request(`/outbox?before=${id}`), "/outbox before", "before");
        await expect422(await h.request(`/audit?message=${id}`), "/audit message", "message");
        await expect422(await h.request(`/audit?account=${id}`), "/audit account", "account");
        await expect422(await h.request(`/messages?account=${id}`), "/messages account", "account");
        await expect422(
          await api(h, token, "GET", `/api/v1/outbox?account=${id}&before=1`),
          "API outbox account",
          "account",
        );
        await expect422(
          await api(h, token, "GET", `/api/v1/audit?message=${id}`),
          "API audit message",
          "message",
        );
      }
    }));

  Deno.test(`bad input: rule JSON with \\u0000 or a lone surrogate names the path [${kind}]`, () =>
    withSetup(kind, async ({ h, token, ruleId, messageId }) => {
      const rule = (text: string, name = "eco") =>
        `{"name":"${name}","when":{"kind":"direct","from":["a@b.test"]},` +
        `"reply":{"to":"sender","subject":"Re","text":"${text}"}}`;
      for (const escape of ["\\u0000", "\\ud800", "\\udfff"]) {
        const bad = rule(`ol${escape}a`);
        await expect422(
          await h.post("/rules", { definition: bad }),
          `page ${escape}`,
          "reply.text",
        );
        await expect422(
          await h.post(`/rules/${ruleId}`, { definition: bad }),
          `page edit ${escape}`,
          "reply.text",
        );
        await expect422(
          await h.post("/rules/preview", { definition: bad, message_id: String(messageId) }),
          `page preview ${escape}`,
          "reply.text",
        );
        await expect422(
          await api(h, token, "POST", "/api/v1/rules", bad),
          `API ${escape}`,
          "reply.text",
        );
        await expect422(
          await api(h, token, "PUT", `/api/v1/rules/${ruleId}`, bad),
          `API put ${escape}`,
          "reply.text",
        );
        await expect422(
          await api(h, token, "POST", "/api/v1/rules/dry-run", `{"definition":${bad}}`),
          `API dry-run ${escape}`,
          "reply.text",
        );
        // In a name and in a list of addresses too.
        await expect422(
          await api(h, token, "POST", "/api/v1/rules", rule("x", `e${escape}`)),
          `API name ${escape}`,
          "name",
        );
        await expect422(
          await api(
            h,
            token,
            "POST",
            "/api/v1/rules",
            rule("x").replace("a@b.test", `a${escape}@b.test`),
          ),
          `API from ${escape}`,
          "when.from",
        );
      }
      // The message says which rule and which field.
      const res = await api(h, token, "POST", "/api/v1/rules", rule("a\\u0000"));
      const body = await res.json();
      assert.ok(
        body.error.details.some((d: string) => /reply\.text: contains .*(NUL|U\+0000)/.test(d)),
        JSON.stringify(body),
      );
      // A pair of surrogates is a valid character and is kept.
      const ok = await api(h, token, "POST", "/api/v1/rules", rule("😀 \\ud83d\\ude00", "emoji"));
      assert.equal(ok.status, 201, await ok.text());
    }));

  Deno.test(`bad input: a non-integer message_id is a 422 naming it [${kind}]`, () =>
    withSetup(kind, async ({ h, token, messageId }) => {
      const definition = {
        name: "eco",
        when: { kind: "direct" },
        reply: { to: "sender", subject: "Re", text: "x" },
      };
      for (const id of [1.5, 1e20, -1, 0, 2147483648, "1", [1], null, true]) {
        await expect422(
          await api(h, token, "POST", "/api/v1/rules/preview", { definition, message_id: id }),
          `API preview message_id ${JSON.stringify(id)}`,
          "message_id",
        );
      }
      for (const id of ["1.5", "1e20", "-1", "2147483648"]) {
        await expect422(
          await h.post("/rules/preview", {
            definition: JSON.stringify(definition),
            message_id: id,
          }),
          `page preview message_id ${id}`,
          "message_id",
        );
      }
      for (const days of [1.5, 1e20, "7"]) {
        await expect422(
          await api(h, token, "POST", "/api/v1/rules/dry-run", { definition, days }),
          `API dry-run days ${days}`,
          "days",
        );
      }
      for (const days of ["1.5", "1e20"]) {
        await expect422(
          await h.post("/rules/dry-run", { definition: JSON.stringify(definition), days }),
          `page dry-run days ${days}`,
          "days",
        );
      }
      for (const replaces of [1.5, 1e20, "1"]) {
        await expect422(
          await api(h, token, "POST", "/api/v1/rules/dry-run", {
            definition,
            replaces_id: replaces,
          }),
          `API dry-run replaces_id ${replaces}`,
          "replaces_id",
        );
      }
      const fine = await api(h, token, "POST", "/api/v1/rules/preview", {
        definition,
        message_id: messageId,
      });
      assert.equal(fine.status, 200, await fine.text());
    }));

  Deno.test(`bad input: a parameter given twice is a 422 naming it [${kind}]`, () =>
    withSetup(kind, async ({ h, token, messageId }) => {
      await expect422(await h.request("/messages?q=a&q=b"), "/messages q", "q");
      await expect422(await api(h, token, "GET", "/api/v1/messages?q=a&q=b"), "API q", "q");
      await expect422(
        await h.request("/audit?since=2026-01-01&since=2026-01-02"),
        "/audit since",
        "since",
      );
      await expect422(
        await api(h, token, "GET", "/api/v1/audit?event=a&event=b"),
        "API audit event",
        "event",
      );
      await expect422(
        await h.request("/outbox?status=failed&status=sent"),
        "/outbox status",
        "status",
      );
      await expect422(
        await api(h, token, "GET", "/api/v1/outbox?limit=1&limit=2"),
        "API outbox limit",
        "limit",
      );
      const form = new URLSearchParams([
        ["_csrf", h.csrf],
        ["kind", "direct"],
        ["kind", "forwarded"],
      ]);
      await expect422(
        await h.request(`/messages/${messageId}/classification`, { method: "POST", body: form }),
        "classification kind twice",
        "kind",
      );
      await expect422(
        await api(h, token, "POST", "/api/v1/rules/preview", {
          definition: [{ name: "x" }],
          message_id: messageId,
        }),
        "API preview definition as a list",
        "rule",
      );
    }));

  Deno.test(`bad input: a megabyte string is a 422 naming the field [${kind}]`, () =>
    withSetup(kind, async ({ h, token, messageId }) => {
      const mb = "a".repeat(1_000_000);
      await expect422(await h.request(`/messages?q=${mb}`), "/messages q", "q");
      await expect422(await api(h, token, "GET", `/api/v1/messages?q=${mb}`), "API q", "q");
      await expect422(await h.request(`/audit?event=${mb}`), "/audit event", "event");
      await expect422(await h.request(`/messages?after=${mb}`), "/messages after", "after");
      await expect422(
        await h.post(`/messages/${messageId}/classification`, {
          kind: "forwarded",
          original_from_address: "cliente@externo.test",
          original_from_name: mb.slice(0, 500_000),
        }),
        "classification name",
        "original_from_name",
      );
      await expect422(
        await api(h, token, "POST", "/api/v1/rules", {
          name: "long",
          when: { kind: "direct" },
          reply: { to: "sender", subject: "Re", text: mb.slice(0, 500_000) },
        }),
        "API rule text",
        "reply.text",
      );
    }));
}

for (const kind of KINDS) {
  Deno.test(`bad input: a data exception the checks missed is a 422, told by SQLSTATE [${kind}]`, () =>
    withSetup(kind, async ({ h, token }) => {
      // Both drivers carry the SQLSTATE of class 22 as `code`.
      for (
        const [sql, value] of [
          ["SELECT $1::integer AS v", "99999999999"],
          ["SELECT $1::integer AS v", "1.5"],
          ["SELECT $1::timestamptz AS v", "+010000-01-01T00:00:00Z"],
          ["SELECT $1::text AS v", "a\u0000b"],
        ]
      ) {
        const error = await h.db.query(sql, [value]).then(() => null, (e: unknown) => e);
        assert.ok(error, `${sql} with ${JSON.stringify(value)} must fail`);
        assert.match(dataExceptionCode(error) ?? "", /^22/, `${sql}: ${String(error)}`);
      }
      assert.equal(dataExceptionCode(new Error("22003 numeric value out of range")), null);
      assert.equal(dataExceptionCode(Object.assign(new Error("x"), { code: "23505" })), null);
      assert.equal(
        dataExceptionCode(new Error("wrapped", { cause: { code: "22P05" } })),
        "22P05",
      );
      // The app answers one with 422 on a page and in the API, and reports no error.
      const probe = createApp(h.deps);
      const fails = async (): Promise<Response> => {
        await h.db.query("SELECT $1::integer", ["1e99"]);
        return new Response("unreachable");
      };
      probe.get("/_probe/page", fails);
      probe.get("/api/v1/_probe", fails);
      const headers = { Cookie: h.jar.header(), Authorization: `Bearer ${token}` };
      const page = await answer(
        await probe.request("http://localhost/_probe/page", { headers }),
        "page probe",
      );
      assert.equal(page.status, 422, page.body);
      assert.match(page.body, /SQLSTATE 22/);
      const res = await answer(
        await probe.request("http://localhost/api/v1/_probe", { headers }),
        "API probe",
      );
      assert.equal(res.status, 422, res.body);
      assert.equal(JSON.parse(res.body).error.code, "invalid_request");
    }));
}
