/** The list queries: one parser per list, and the links and addresses written back from them. */
import assert from "node:assert/strict";
import { Params } from "../../routes/params.ts";
import {
  listQueryString,
  listUrl,
  parseAuditQuery,
  parseMessageQuery,
  parseOutboxQuery,
} from "../../routes/list_queries.ts";

function params(query: string): Params {
  const search = new URLSearchParams(query);
  return new Params((name) => search.getAll(name));
}

Deno.test("messages: filters as typed and as understood; the cursor travels as after", () => {
  const q = parseMessageQuery(
    params("kind=forwarded&q=pedido&unparsed=1&since=2026-03-01&until=2026-03-01&after=5.7"),
  );
  assert.deepEqual(q.errors, []);
  assert.equal(q.filters.kind, "forwarded");
  assert.equal(q.filters.q, "pedido");
  assert.equal(q.filters.unparsed, true);
  assert.equal(q.filters.until?.toISOString(), "2026-03-02T00:00:00.000Z", "until is inclusive");
  assert.deepEqual(q.cursor, { micros: 5, id: 7 });
  assert.equal(
    listUrl("/messages", q),
    "/messages?kind=forwarded&since=2026-03-01&until=2026-03-01&unparsed=1&q=pedido&after=5.7",
  );
  assert.equal(
    listUrl("/messages", q, ""),
    "/messages?kind=forwarded&since=2026-03-01&until=2026-03-01&unparsed=1&q=pedido",
  );
  // `cursor` is read where `after` is absent; links name it `after`.
  assert.equal(
    listUrl("/messages", parseMessageQuery(params("cursor=5.7"))),
    "/messages?after=5.7",
  );
});

Deno.test("messages: each problem named by its parameter; the page and the API allow different sizes", () => {
  const q = parseMessageQuery(
    params("kind=x&since=2026-03-02&until=2026-03-01&after=zz&limit=300"),
  );
  assert.deepEqual(q.errors.map((e) => e.split(":")[0]), ["kind", "since", "after", "limit"]);
  assert.equal(q.at, "", "a refused cursor names no page");
  assert.deepEqual(parseMessageQuery(params("limit=300"), 500).errors, []);
});

Deno.test("audit: event names, ids and the after cursor", () => {
  const q = parseAuditQuery(params("event=collected&account=2&message=0&after=1.2"));
  assert.deepEqual(q.errors, [
    "message: must be a message id (a whole number from 1 to 2147483647)",
  ]);
  assert.equal(q.filters.event, "collected");
  assert.equal(q.filters.accountId, 2);
  assert.deepEqual(parseAuditQuery(params("event=Login")).errors, ["event: must be an event name"]);
});

Deno.test("outbox: status, account, before and limit, for the page and the API alike", () => {
  const q = parseOutboxQuery(params("status=failed&account=1&before=40&limit=10"));
  assert.deepEqual(q.errors, []);
  assert.deepEqual(q.filters, { status: "failed", accountId: 1 });
  assert.equal(q.cursor, 40);
  assert.equal(q.limit, 10);
  assert.equal(listUrl("/outbox", q, "30"), "/outbox?status=failed&account=1&before=30");
  const bad = parseOutboxQuery(params("status=lost&before=-1"));
  assert.deepEqual(bad.errors.map((e) => e.split(":")[0]), ["status", "before"]);
  assert.equal(bad.cursor, null);
});

Deno.test("a query string holds only the fields that are set", () => {
  assert.equal(listQueryString({ a: "", b: false, c: "x y" }), "?c=x+y");
  assert.equal(listQueryString({ a: "" }), "");
  assert.equal(listQueryString({ a: true }, ["after", ""]), "?a=1");
});
