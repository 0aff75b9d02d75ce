/**
 * `/rules` editor's form: rows added and removed by `/rules/form` (htmx fragment and plain post),
 * saving from the form, problems next to their inputs, the switch to and from JSON, the preview
 * with a typed message id, and rules exported and imported as JSON files.
 */
import assert from "node:assert/strict";
import { eml, type Harness, harness, seedMessage } from "./support.ts";
import {
  formToDefinition,
  readRuleForm,
  ruleFormFields,
  ruleToForm,
} from "../../src/admin/rule_form.ts";
import { exportRules, parseRules } from "../../src/domain/rules.ts";
import { listRuleRows } from "../../src/store/rules_admin.ts";

const HX = { "HX-Request": "true" };

const RULE = {
  name: "fora do horário",
  enabled: true,
  priority: 3,
  when: {
    kind: "direct",
    schedule: {
      timezone: "America/Sao_Paulo",
      hours: { "mon-fri": ["09:00-12:00", "13:00-18:00"] },
      holidays: ["BR-SP", "2026-12-24"],
      outside: true,
    },
    any: [{ from: "*@cliente.test" }, { subject_contains: "pedido" }],
    not: { header: { name: "List-Id" } },
  },
  reply: {
    to: "sender",
    subject: "Re: {{subject}}",
    text: "Olá {{from_name|cliente}},\nestamos fora do horário.",
    cc: "equipe@empresa.test",
    reply_to: "atendimento@empresa.test",
  },
};

function canonical(json: unknown) {
  const parsed = parseRules([json]);
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return exportRules(parsed.rules)[0];
}

/** The fields the editor's form posts for `json`, in the form view. */
function formFields(json: unknown): Record<string, string> {
  const parsed = parseRules([json]);
  assert.ok(parsed.ok);
  return { view: "form", ...Object.fromEntries(ruleFormFields(ruleToForm(parsed.rules[0]))) };
}

async function storedDefinitions(h: Harness) {
  return (await listRuleRows(h.db)).map((r) => r.definition);
}

Deno.test("a new rule opens in the form; rows and groups are added by htmx and by a plain post", async () => {
  const h = await harness();
  try {
    await h.login();
    h.jar.set("carteiro_lang", "en");
    const page = await (await h.request("/rules/new")).text();
    assert.match(page, /<input type="hidden" name="view" value="form"/);
    assert.match(page, /name="when.r.0.field"/);
    assert.match(page, /Advanced \(JSON\)/);
    assert.match(page, /href="\/exceptions"/);

    const fields = formFields(RULE);
    const frag = await h.post("/rules/form", { ...fields, edit: "add-row:when.any.1" }, HX);
    assert.equal(frag.status, 200);
    const html = await frag.text();
    assert.match(html, /^<div id="rule-editor">/);
    assert.match(html, /name="when.any.1.r.1.field"/);
    assert.match(html, /value="\*@cliente.test"/);
    assert.match(html, /name="when.s.hours.mon" value="09:00-12:00, 13:00-18:00"/);

    // Without JavaScript the same button answers with the whole page.
    const plain = await h.post("/rules/form", { ...fields, edit: "remove-any:when.any.0" });
    const whole = await plain.text();
    assert.match(whole, /^<!doctype html>/);
    assert.match(whole, /name="when.any.0.r.0.value" value="pedido"/);
    assert.doesNotMatch(whole, /name="when.any.1.g"/);
    assert.deepEqual(await storedDefinitions(h), [], "nothing is saved by an edit");
  } finally {
    await h.close();
  }
});

Deno.test("saving from the form stores the rule the form holds; problems sit by their inputs", async () => {
  const h = await harness();
  try {
    await h.login();
    h.jar.set("carteiro_lang", "en");
    const fields = formFields(RULE);
    const bad = await h.post("/rules", {
      ...fields,
      "when.any.0.r.0.value": "not a glob",
      "when.s.hours.tue": "9-5",
      "reply.cc": "equipe",
    }, HX);
    assert.equal(bad.status, 422);
    const html = await bad.text();
    assert.match(html, /Some fields have problems/);
    assert.match(html, /data-for="when.any.0.r.0.value">[^<]*is not an address glob/);
    assert.match(html, /data-for="when.s.hours.tue">[^<]*is not a range/);
    assert.match(html, /data-for="reply.cc">[^<]*not one plain e-mail address/);
    assert.match(html, /name="when.s.hours.tue"[^>]*value="9-5"[^>]*aria-invalid="true"/);

    const twice = await h.post("/rules", {
      ...fields,
      "when.r.1.field": "kind",
      "when.r.1.op": "is",
      "when.r.1.arg": "",
      "when.r.1.value": "forwarded",
    });
    assert.equal(twice.status, 422);
    assert.match(await twice.text(), /data-for="when.r.1.field">[^<]*already in this group/);

    const saved = await h.post("/rules", fields);
    assert.equal(saved.status, 303);
    assert.deepEqual(await storedDefinitions(h), [canonical(RULE)]);
    const [row] = await listRuleRows(h.db);
    const edited = await h.post(`/rules/${row.id}`, {
      ...fields,
      rule_id: String(row.id),
      "reply.text": "Olá,\r\nvoltamos amanhã.",
    });
    assert.equal(edited.status, 303);
    const [after] = await storedDefinitions(h);
    assert.equal((after.reply as { text: string }).text, "Olá,\nvoltamos amanhã.");

    // The stored rule opens in the form, each field filled.
    const page = await (await h.request(`/rules/${row.id}`)).text();
    assert.match(page, /name="when.not.r.0.arg" value="List-Id"/);
    assert.match(page, /<option value="America\/Sao_Paulo" selected>/);
    assert.match(page, /name="when.s.calendars" value="BR-SP"/);
    assert.match(page, /name="when.s.outside" value="1" checked/);
    assert.match(page, /<textarea name="reply.text"[^>]*>\nOlá,\nvoltamos amanhã.<\/textarea>/);
  } finally {
    await h.close();
  }
});

Deno.test("switching between the form and the JSON keeps the rule", async () => {
  const h = await harness();
  try {
    await h.login();
    h.jar.set("carteiro_lang", "en");
    const toJson = await h.post("/rules/form", { ...formFields(RULE), edit: "view:json" }, HX);
    const html = await toJson.text();
    assert.match(html, /<input type="hidden" name="view" value="json"/);
    const text = /<textarea name="definition"[^>]*>([\s\S]*?)<\/textarea>/.exec(html)?.[1] ?? "";
    const json = JSON.parse(
      text.replaceAll("&quot;", '"').replaceAll("&lt;", "<").replaceAll("&gt;", ">")
        .replaceAll("&#39;", "'").replaceAll("&amp;", "&"),
    );
    assert.deepEqual(json, canonical(RULE));

    const back = await h.post("/rules/form", {
      view: "json",
      definition: JSON.stringify(json),
      edit: "view:form",
    }, HX);
    const form = await back.text();
    assert.match(form, /<input type="hidden" name="view" value="form"/);
    assert.match(form, /name="when.any.1.r.0.value" value="pedido"/);

    const broken = await h.post("/rules/form", {
      view: "json",
      definition: '{"name": "x", "when": {"kind": "dirct"}}',
      edit: "view:form",
    }, HX);
    assert.equal(broken.status, 422);
    const refused = await broken.text();
    assert.match(refused, /must be a valid rule before it can be shown in the form/);
    assert.match(refused, /name="definition"[^>]*>\{&quot;name&quot;: &quot;x&quot;/);

    // A rule the form cannot show exactly opens as JSON, saying why.
    await h.post("/rules", { definition: JSON.stringify({ ...RULE, limits: {} }) });
    const [row] = await listRuleRows(h.db);
    const page = await (await h.request(`/rules/${row.id}`)).text();
    assert.match(page, /<input type="hidden" name="view" value="json"/);
    assert.match(page, /The form has no field for something in this rule/);
  } finally {
    await h.close();
  }
});

Deno.test("the preview renders the reply for a typed message id, with its limits and trail", async () => {
  const h = await harness();
  try {
    await h.login();
    h.jar.set("carteiro_lang", "en");
    const id = await seedMessage(
      h.db,
      eml({
        from: "Ana <ana@cliente.test>",
        subject: "Pedido 9",
        date: "Sat, 07 Mar 2026 10:00:00 +0000",
      }),
      { receivedAt: new Date("2026-03-07T10:00:00Z") },
    );
    const res = await h.post("/rules/preview", {
      ...formFields({ ...RULE, limits: { window_seconds: 172800 } }),
      message_id: "",
      message_ref: `#${id}`,
    }, HX);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /Would reply/);
    assert.match(html, /ana@cliente.test/);
    assert.match(html, /Cc: equipe@empresa.test/);
    assert.match(html, /Reply-To: <b>atendimento@empresa.test<\/b>/);
    assert.match(html, /Re: Pedido 9/);
    assert.match(html, /estamos fora do horário/);
    assert.match(html, /one reply per recipient every 2 d/);
    assert.match(html, /Decision trail/);

    const missing = await h.post("/rules/preview", {
      ...formFields(RULE),
      message_ref: "999999",
    }, HX);
    assert.equal(missing.status, 422);
    assert.match(await missing.text(), /no stored message #999999/);
  } finally {
    await h.close();
  }
});

Deno.test("export one rule or all, import them back unchanged; an invalid file changes nothing", async () => {
  const h = await harness();
  try {
    await h.login();
    h.jar.set("carteiro_lang", "en");
    await h.post("/rules", formFields(RULE));
    await h.post("/rules", {
      definition: JSON.stringify({
        name: "newsletters",
        when: { header: { name: "X-Campaign" } },
        ignore: true,
      }),
    });
    const rows = await listRuleRows(h.db);
    const one = await h.request(`/rules/${rows[0].id}/export`);
    assert.equal(one.status, 200);
    assert.match(
      one.headers.get("Content-Disposition") ?? "",
      /attachment; filename="rule-fora-do-hora-rio\.json"|attachment; filename="rule-fora-do-horario\.json"/,
    );
    const single = await one.json();
    assert.deepEqual(single, rows[0].definition);
    const all = await (await h.request("/rules/export")).json();
    assert.deepEqual(all, rows.map((r) => r.definition));

    // Import the single rule back (pasted), then all of them (a file): nothing changes.
    const pasted = await h.post("/rules/import", { text: JSON.stringify(single) });
    assert.equal(pasted.status, 200);
    assert.match(await pasted.text(), /Imported: 0 added, 1 replaced/);
    const form = new FormData();
    form.set("_csrf", h.csrf);
    form.set("file", new File([JSON.stringify(all)], "carteiro-rules.json"));
    const uploaded = await h.request("/rules/import", { method: "POST", body: form });
    assert.equal(uploaded.status, 200);
    const after = await listRuleRows(h.db);
    assert.deepEqual(
      after.map((r) => [r.id, r.position, r.definition]),
      rows.map((r) => [r.id, r.position, r.definition]),
    );
    assert.deepEqual(await (await h.request("/rules/export")).json(), all);

    // A new name is added last; one invalid rule refuses the whole file.
    const added = await h.post("/rules/import", {
      text: JSON.stringify([{ ...single, name: "cópia" }]),
    });
    assert.match(await added.text(), /Imported: 1 added, 0 replaced/);
    const refused = await h.post("/rules/import", {
      text: JSON.stringify([{ ...single, name: "outra" }, { name: "x", when: { kind: "dirct" } }]),
    });
    assert.equal(refused.status, 422);
    assert.match(await refused.text(), /when.kind: must be/);
    assert.deepEqual((await listRuleRows(h.db)).map((r) => r.name), [
      "fora do horário",
      "newsletters",
      "cópia",
    ]);
    const empty = await h.post("/rules/import", { text: "  " });
    assert.equal(empty.status, 422);
    const events = await h.db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'rule_changed' AND detail->>'via' = 'admin import' ORDER BY id",
    );
    assert.deepEqual(events.map((e) => e.detail), [
      {
        via: "admin import",
        rules: ["fora do horário"],
        by: "admin@example.test",
        created: [],
        updated: ["fora do horário"],
      },
      {
        via: "admin import",
        rules: ["fora do horário", "newsletters"],
        by: "admin@example.test",
        created: [],
        updated: ["fora do horário", "newsletters"],
      },
      {
        via: "admin import",
        rules: ["cópia"],
        by: "admin@example.test",
        created: ["cópia"],
        updated: [],
      },
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("the form's post is read back exactly as the pure reader reads it", () => {
  const fields = formFields(RULE);
  assert.deepEqual(formToDefinition(readRuleForm(fields)).definition.when, {
    kind: "direct",
    schedule: {
      timezone: "America/Sao_Paulo",
      hours: {
        mon: ["09:00-12:00", "13:00-18:00"],
        tue: ["09:00-12:00", "13:00-18:00"],
        wed: ["09:00-12:00", "13:00-18:00"],
        thu: ["09:00-12:00", "13:00-18:00"],
        fri: ["09:00-12:00", "13:00-18:00"],
      },
      holidays: ["BR-SP", "2026-12-24"],
      outside: true,
    },
    any: [{ from: ["*@cliente.test"] }, { subject_contains: "pedido" }],
    not: { header: { name: "List-Id" } },
  });
});

Deno.test("API: import one rule or a list, as the page does", async () => {
  const h = await harness();
  try {
    const token = await h.apiToken();
    const call = (body: unknown) =>
      h.app.request("http://localhost/api/v1/rules/import", {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    const first = await call(RULE);
    assert.equal(first.status, 200);
    assert.deepEqual((await first.json()).data, { created: ["fora do horário"], updated: [] });
    const again = await call([canonical(RULE), { name: "outra", ignore: true }]);
    assert.deepEqual((await again.json()).data, {
      created: ["outra"],
      updated: ["fora do horário"],
    });
    assert.deepEqual(await storedDefinitions(h), [
      canonical(RULE),
      canonical({ name: "outra", ignore: true }),
    ]);
    const bad = await call({ name: "x", when: { kind: "dirct" }, ignore: true });
    assert.equal(bad.status, 422);
    assert.match(JSON.stringify(await bad.json()), /when.kind: must be/);
    const [e] = await h.db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'rule_changed' ORDER BY id LIMIT 1",
    );
    assert.equal(e.detail.via, "admin import");
    assert.match(String(e.detail.by), /^token:/);
  } finally {
    await h.close();
  }
});
