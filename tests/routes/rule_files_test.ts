/**
 * A rule's files on the rules page (upload, list, remove, the 10 MB error) and through
 * `/api/v1/rules/{id}/attachments`; the outbox shows a reply's copies.
 */
import assert from "node:assert/strict";
import { type Harness, harness } from "./support.ts";
import { parseRules } from "../../src/domain/rules.ts";
import { replaceRules } from "../../src/store/rule_set.ts";
import { listRuleAttachments } from "../../src/store/rule_attachments.ts";
import { MAX_RULE_ATTACHMENT_BYTES } from "../../src/domain/rule_attachment.ts";
import { eml, NOW, seedMessage } from "./support.ts";

async function withRule(h: Harness): Promise<number> {
  const parsed = parseRules([{
    name: "ack",
    when: { kind: "direct" },
    reply: { to: "sender", text: "Recebemos.", cc: "equipe@empresa.test" },
  }]);
  assert.ok(parsed.ok);
  await replaceRules(h.db, parsed.rules, NOW);
  const [{ id }] = await h.db.query<{ id: number }>("SELECT id FROM rules WHERE name = 'ack'");
  return Number(id);
}

function upload(
  h: Harness,
  path: string,
  name: string,
  bytes: Uint8Array<ArrayBuffer>,
  csrf = true,
) {
  const form = new FormData();
  if (csrf) form.set("_csrf", h.csrf);
  form.set("file", new File([bytes], name, { type: "application/pdf" }));
  return h.request(path, { method: "POST", body: form });
}

Deno.test("rules page: upload a file, see it listed, remove it; too much is a clear 422", async () => {
  const h = await harness();
  try {
    await h.login();
    const id = await withRule(h);
    const page = await (await h.request(`/rules/${id}`)).text();
    assert.match(page, /Arquivos anexados a cada resposta/);
    assert.match(page, /Nenhum arquivo/);
    assert.match(page, /enctype="multipart\/form-data"/);

    const sent = await upload(h, `/rules/${id}/attachments`, "Horários.pdf", new Uint8Array(2048));
    assert.equal(sent.status, 303, await sent.clone().text());
    assert.equal(sent.headers.get("Location"), `/rules/${id}#rule-files`);
    const listed = await (await h.request(`/rules/${id}`)).text();
    assert.match(listed, /Horários\.pdf/);
    assert.match(listed, /2 KB/);

    // A file that does not fit in the rule's 10 MB: the page again, with the reason.
    const big = await upload(
      h,
      `/rules/${id}/attachments`,
      "big.bin",
      new Uint8Array(MAX_RULE_ATTACHMENT_BYTES),
    );
    assert.equal(big.status, 422);
    assert.match(await big.text(), /the limit is 10\.0 MB per rule/);

    // Without the CSRF token nothing is stored.
    const forged = await upload(h, `/rules/${id}/attachments`, "x.pdf", new Uint8Array(5), false);
    assert.equal(forged.status, 403);
    const [file] = await listRuleAttachments(h.db, "ack");
    assert.equal((await listRuleAttachments(h.db, "ack")).length, 1);

    const removed = await h.post(`/rules/${id}/attachments/${file.id}/delete`, {}, {
      "HX-Request": "true",
    });
    assert.equal(removed.status, 200);
    const fragment = await removed.text();
    assert.ok(fragment.startsWith('<section id="rule-files">'), fragment.slice(0, 60));
    assert.match(fragment, /Nenhum arquivo/);
    assert.deepEqual(await listRuleAttachments(h.db, "ack"), []);
    const events = await h.db.query<{ event: string }>(
      "SELECT event FROM audit_events WHERE event LIKE 'rule_attachment%' ORDER BY id",
    );
    assert.deepEqual(events.map((e) => e.event), [
      "rule_attachment_added",
      "rule_attachment_removed",
    ]);
    assert.deepEqual(h.errors, []);
  } finally {
    await h.close();
  }
});

Deno.test("API: list, upload (multipart), refuse, delete a rule's files", async () => {
  const h = await harness();
  try {
    const id = await withRule(h);
    const token = await h.apiToken("ops");
    const call = (path: string, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set("Authorization", `Bearer ${token}`);
      return h.request(path, { ...init, headers });
    };
    const base = `/api/v1/rules/${id}/attachments`;
    assert.deepEqual(await (await call(base)).json(), { data: [] });
    const form = new FormData();
    form.set("file", new File([new Uint8Array([1, 2, 3])], "tabela.csv", { type: "text/csv" }));
    const created = await call(base, { method: "POST", body: form });
    assert.equal(created.status, 201);
    const { data } = await created.json();
    assert.equal(data.filename, "tabela.csv");
    assert.equal(data.content_type, "text/csv");
    assert.equal(data.size, 3);
    assert.equal(data.rule, "ack");
    assert.equal(data.created_by, "token:ops");
    assert.equal((await (await call(base)).json()).data.length, 1);

    const noFile = await call(base, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    assert.equal(noFile.status, 422);
    assert.match(JSON.stringify(await noFile.json()), /multipart\/form-data/);
    assert.equal((await call(`/api/v1/rules/999/attachments`)).status, 404);

    const deleted = await call(`${base}/${data.id}`, { method: "DELETE" });
    assert.equal(deleted.status, 200);
    assert.deepEqual(await deleted.json(), { data: { deleted: data.id } });
    assert.equal((await call(`${base}/${data.id}`, { method: "DELETE" })).status, 404);
  } finally {
    await h.close();
  }
});

Deno.test("outbox: a reply's Cc and Bcc show on its row and in the API", async () => {
  const h = await harness();
  try {
    await h.login();
    const m = await seedMessage(h.db, eml({}), { outbox: { status: "pending" } });
    await h.db.query(
      `UPDATE outbox SET cc = '["equipe@empresa.test"]', bcc = '["arquivo@empresa.test"]',
         attachment_ids = '[1, 2]' WHERE message_id = $1`,
      [m],
    );
    const page = await (await h.request("/outbox")).text();
    assert.match(page, /Cc: equipe@empresa\.test/);
    assert.match(page, /Bcc: arquivo@empresa\.test/);
    const token = await h.apiToken();
    const api = await (await h.request("/api/v1/outbox", {
      headers: { Authorization: `Bearer ${token}` },
    })).json();
    assert.deepEqual(api.data[0].cc, ["equipe@empresa.test"]);
    assert.deepEqual(api.data[0].bcc, ["arquivo@empresa.test"]);
    assert.equal(api.data[0].attachments, 2);
  } finally {
    await h.close();
  }
});

Deno.test("preview: a rule's copies, and the English texts for an English message", async () => {
  const h = await harness();
  try {
    const m = await seedMessage(
      h.db,
      eml({
        subject: "Order 77",
        text: "Hello, I ordered a blue jacket last week and it has not arrived yet. " +
          "Could you please check where it is?",
      }),
    );
    const token = await h.apiToken();
    const res = await h.request("/api/v1/rules/preview", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        message_id: m,
        definition: {
          name: "ack",
          when: { kind: "direct" },
          reply: {
            to: "sender",
            text: "Recebemos.",
            cc: "equipe@empresa.test",
            bcc: ["arquivo@empresa.test"],
            variants: { en: { subject: "We got it: {{subject}}", text: "Received." } },
          },
        },
      }),
    });
    assert.equal(res.status, 200);
    const { data } = await res.json();
    assert.equal(data.outcome, "reply", JSON.stringify(data));
    assert.deepEqual([data.cc, data.bcc], [["equipe@empresa.test"], ["arquivo@empresa.test"]]);
    assert.equal(data.subject, "We got it: Order 77");
    assert.equal(data.text, "Received.");
    assert.equal(
      data.trail.at(-1).why,
      "message language en (detected in the text); reply texts: variant en",
    );
  } finally {
    await h.close();
  }
});
