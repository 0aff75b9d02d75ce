/** `/rules`: create, edit, enable, reorder, delete; preview and dry-run send nothing. */
import assert from "node:assert/strict";
import { eml, type Harness, harness, seedMessage } from "./support.ts";
import { loadRules } from "../../src/store/rule_set.ts";

const HX = { "HX-Request": "true" };

const ACK = {
  name: "ack",
  when: { kind: "direct" },
  reply: { to: "sender", subject: "Re: {{subject}}", text: "Olá {{from_name}}, recebemos." },
};

async function createRule(h: Harness, def: unknown) {
  const res = await h.post("/rules", { definition: JSON.stringify(def) });
  assert.equal(res.status, 303, await res.clone().text());
}

Deno.test("create: invalid JSON or rule is 422 with the form as typed; valid is stored and audited", async () => {
  const h = await harness();
  try {
    await h.login();
    const broken = await h.post("/rules", { definition: '{"name": "x", "when": ' });
    assert.equal(broken.status, 422);
    const html = await broken.text();
    assert.match(
      html,
      /<textarea name="definition"[^>]*>\{&quot;name&quot;: &quot;x&quot;, &quot;when&quot;: <\/textarea>/,
    );
    assert.match(html, /não é JSON válido/);
    const invalid = await h.post("/rules", {
      definition: JSON.stringify({ ...ACK, when: { kind: "dirct" } }),
    }, HX);
    assert.equal(invalid.status, 422);
    const frag = await invalid.text();
    assert.match(frag, /^<div id="rule-editor">/);
    assert.match(
      frag,
      /<code>when.kind<\/code>: deve ser &quot;forwarded&quot; ou &quot;direct&quot;/,
    );
    const template = await h.post("/rules", {
      definition: JSON.stringify({
        ...ACK,
        reply: { ...ACK.reply, text: "{{constructor.constructor}}" },
      }),
    });
    assert.equal(template.status, 422);

    await createRule(h, ACK);
    const dup = await h.post("/rules", { definition: JSON.stringify({ ...ACK, name: "ACK" }) });
    assert.equal(dup.status, 422);
    assert.match(await dup.text(), /already used by another rule/);
    const rules = await loadRules(h.db);
    assert.deepEqual(rules.map((r) => [r.name, r.enabled, r.action.type]), [[
      "ack",
      true,
      "reply",
    ]]);
    const [e] = await h.db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'rule_changed'",
    );
    assert.deepEqual(e.detail, { action: "created", rule: "ack", by: "admin@example.test" });
  } finally {
    await h.close();
  }
});

Deno.test("edit, enable/disable, reorder and delete, as list fragments with htmx", async () => {
  const h = await harness();
  try {
    await h.login();
    await createRule(h, ACK);
    await createRule(h, {
      name: "newsletters",
      when: { header: { name: "X-Campaign" } },
      ignore: true,
    });
    await createRule(h, { ...ACK, name: "third" });
    const [a, b, c] = (await h.db.query<{ id: number }>("SELECT id FROM rules ORDER BY position"))
      .map((r) => r.id);

    const list = await (await h.request("/rules")).text();
    assert.match(list, /<a href="\/rules\/\d+">ack<\/a>[\s\S]*newsletters[\s\S]*third/);

    // The editor opens in the form; ?view=json opens the JSON.
    assert.match(await (await h.request(`/rules/${a}`)).text(), /name="name" value="ack"/);
    const edit = await h.request(`/rules/${a}?view=json`);
    assert.match(await edit.text(), /&quot;name&quot;: &quot;ack&quot;/);
    const saved = await h.post(`/rules/${a}`, {
      definition: JSON.stringify({
        ...ACK,
        priority: 5,
        reply: { ...ACK.reply, text: "Novo texto." },
      }),
    }, HX);
    assert.equal(saved.status, 200);
    assert.equal(saved.headers.get("HX-Redirect"), "/rules");
    const rename = await h.post(`/rules/${a}`, {
      definition: JSON.stringify({ ...ACK, name: "third" }),
    });
    assert.equal(rename.status, 422, "a rename onto another rule's name is refused");

    const off = await h.post(`/rules/${b}/enabled`, { enabled: "0" }, HX);
    assert.equal(off.status, 200);
    const offHtml = await off.text();
    assert.match(offHtml, /^<div id="rules-list">/);
    assert.match(offHtml, new RegExp(`<tr id="rule-${b}" data-enabled="false">`));
    assert.equal((await h.post(`/rules/${b}/enabled`, { enabled: "maybe" })).status, 422);

    const up = await h.post(`/rules/${c}/move`, { direction: "up" });
    assert.equal(up.status, 303);
    const order = (await h.db.query<{ name: string }>("SELECT name FROM rules ORDER BY position"))
      .map((r) => r.name);
    assert.deepEqual(order, ["ack", "third", "newsletters"]);
    const rules = await loadRules(h.db);
    assert.deepEqual(rules.map((r) => [r.name, r.enabled, r.priority]), [
      ["ack", true, 5],
      ["third", true, 0],
      ["newsletters", false, 0],
    ]);
    assert.equal(rules[0].action.type === "reply" && rules[0].action.text, "Novo texto.");

    const del = await h.post(`/rules/${b}/delete`, { confirm: "1" }, HX);
    assert.equal(del.status, 200);
    assert.doesNotMatch(await del.text(), /newsletters/);
    const actions = (await h.db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'rule_changed' ORDER BY id",
    )).map((e) => e.detail.action);
    assert.deepEqual(actions, [
      "created",
      "created",
      "created",
      "updated",
      "disabled",
      "moved",
      "deleted",
    ]);
    assert.equal((await h.request("/rules/9999")).status, 404);
  } finally {
    await h.close();
  }
});

Deno.test("the dry-run shows what the rate window would do: a sender's second message is not answered again", async () => {
  const h = await harness();
  try {
    const first = await seedMessage(
      h.db,
      eml({ subject: "Pedido 1", from: "Bia <bia@cliente.test>" }),
      {
        receivedAt: new Date("2026-03-07T10:00:00Z"),
      },
    );
    const second = await seedMessage(
      h.db,
      eml({ subject: "Pedido 2", from: "Bia <bia@cliente.test>" }),
      {
        receivedAt: new Date("2026-03-08T10:00:00Z"),
      },
    );
    await h.login();
    const run = await h.post("/rules/dry-run", { definition: JSON.stringify(ACK), days: "30" }, HX);
    assert.equal(run.status, 200);
    const r = await run.text();
    assert.match(r, /2 mensagens examinadas: 1 seriam respondidas, 1 suprimidas/);
    // The earlier message is the one answered; the later one meets the window.
    assert.match(r, new RegExp(`href="/messages/${second}"[\\s\\S]*rate_limited`));
    assert.match(
      r,
      new RegExp(
        `Responderia \\(1\\)</h3><table[^>]*><tbody><tr>[^]*?href="/messages/${first}"[^]*?Suprimiria`,
      ),
    );
  } finally {
    await h.close();
  }
});

Deno.test("preview renders the reply from a stored message; dry-run reports replies and suppressions", async () => {
  const h = await harness();
  try {
    const plain = await seedMessage(
      h.db,
      eml({ subject: "Pedido 7", from: "Ana <ana@cliente.test>" }),
      {
        receivedAt: new Date("2026-03-08T10:00:00Z"),
      },
    );
    const robot = await seedMessage(
      h.db,
      eml({ subject: "Out of office", headers: { "Auto-Submitted": "auto-replied" } }),
      { receivedAt: new Date("2026-03-07T10:00:00Z") },
    );
    const fwd = await seedMessage(h.db, eml({ subject: "Fwd: x" }), {
      kind: "forwarded",
      receivedAt: new Date("2026-03-06T10:00:00Z"),
    });
    await seedMessage(h.db, eml({ subject: "Too old" }), {
      receivedAt: new Date("2026-01-20T10:00:00Z"),
    });
    await h.login();
    const preview = await h.post("/rules/preview", {
      definition: JSON.stringify(ACK),
      message_id: String(plain),
    }, HX);
    assert.equal(preview.status, 200);
    const p = await preview.text();
    assert.match(p, /^<section id="preview">/);
    assert.match(p, /ana@cliente.test/);
    assert.match(p, /Re: Pedido 7/);
    assert.match(p, /Olá Ana, recebemos./);
    const noMessage = await h.post("/rules/preview", {
      definition: JSON.stringify(ACK),
      message_id: "",
    }, HX);
    assert.equal(noMessage.status, 422);

    const run = await h.post("/rules/dry-run", { definition: JSON.stringify(ACK), days: "30" }, HX);
    assert.equal(run.status, 200);
    const r = await run.text();
    assert.match(r, /^<section id="dry-run">/);
    assert.match(
      r,
      /3 mensagens examinadas: 1 seriam respondidas, 1 suprimidas, 0 ficariam com uma regra anterior, 1 não casam/,
    );
    assert.match(r, new RegExp(`href="/messages/${plain}"`));
    assert.match(r, new RegExp(`href="/messages/${robot}"[\\s\\S]*auto_submitted`));
    assert.doesNotMatch(r, new RegExp(`href="/messages/${fwd}"`));
    const badDays = await h.post(
      "/rules/dry-run",
      { definition: JSON.stringify(ACK), days: "0" },
      HX,
    );
    assert.equal(badDays.status, 422);
    // Without htmx the editor comes back whole, with the report under it.
    const full = await h.post("/rules/dry-run", { definition: JSON.stringify(ACK), days: "30" });
    assert.match(
      await full.text(),
      /<html[\s\S]*<div id="rule-editor">[\s\S]*3 mensagens examinadas/,
    );
    const [n] = await h.db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox");
    assert.equal(n.n, 0, "nothing was queued");
    assert.deepEqual(h.errors, []);
  } finally {
    await h.close();
  }
});
