/**
 * The rule editor's form in real Chromium: a person builds a rule with opening hours, alternatives
 * (any) and an exception (except when) by adding rows with htmx, switches to the JSON and back,
 * previews the reply for a stored message, saves, exports the rule as a JSON file and imports that
 * file back — and the rule is the same JSON throughout. With CARTEIRO_SCREENSHOTS=1 it writes
 * docs/screenshots/rule-form.png.
 */
import assert from "node:assert/strict";
import { browserRig, logIn, screenshot } from "./support.ts";
import { eml, seedMessage } from "../routes/support.ts";
import { listRuleRows } from "../../src/store/rules_admin.ts";

/** The rule the person builds, as the rules file writes it. */
const EXPECTED = {
  name: "fora do horário",
  enabled: true,
  priority: 0,
  when: {
    kind: "direct",
    schedule: {
      timezone: "America/Sao_Paulo",
      hours: {
        mon: ["09:00-12:00", "13:00-18:00"],
        tue: ["09:00-18:00"],
        wed: ["09:00-18:00"],
        thu: ["09:00-18:00"],
        fri: ["09:00-18:00"],
      },
      holidays: ["BR-SP", "2026-12-24"],
      outside: true,
    },
    any: [{ from: "*@cliente.test" }, { subject_contains: "pedido" }],
    not: { header: { name: "List-Id" } },
  },
  reply: {
    to: "sender",
    subject: "Re: {{subject}}",
    text: "Olá {{from_name|cliente}},\nestamos fora do horário; respondemos na segunda.",
    cc: ["equipe@empresa.test"],
  },
};

Deno.test({
  name: "a person builds a rule in the form, previews, saves, exports and imports it unchanged",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const rig = await browserRig();
    try {
      const { page, base } = rig;
      // Saturday 10:00 UTC is 07:00 in São Paulo: out of hours.
      const messageId = await seedMessage(
        rig.h.db,
        eml({ from: "Ana Souza <ana@cliente.test>", subject: "Pedido 4471" }),
        { receivedAt: new Date("2026-03-07T10:00:00Z") },
      );
      await logIn(rig);
      await page.goto(`${base}/rules/new`);
      assert.equal(await page.inputValue('input[name="view"]'), "form");

      /** Clicks one of the editor's buttons and waits for the editor to come back with `ready`. */
      const edit = async (value: string, ready: string) => {
        await page.click(`button[name="edit"][value="${value}"]`);
        await page.waitForSelector(ready);
      };

      await page.fill('input[name="name"]', EXPECTED.name);
      // The new rule's first row is "kind is direct"; opening hours come with Monday to Friday.
      assert.equal(await page.inputValue('select[name="when.r.0.field"]'), "kind");
      await edit("add-schedule:when", 'select[name="when.s.timezone"]');
      await page.selectOption('select[name="when.s.timezone"]', "America/Sao_Paulo");
      await page.fill('input[name="when.s.hours.mon"]', "09:00-12:00, 13:00-18:00");
      await page.fill('input[name="when.s.calendars"]', "BR-SP");
      await page.fill('input[name="when.s.dates"]', "2026-12-24");
      await page.check('input[name="when.s.outside"]');

      await edit("add-any:when", 'select[name="when.any.0.r.0.field"]');
      await page.selectOption('select[name="when.any.0.r.0.field"]', "from");
      await page.fill('input[name="when.any.0.r.0.value"]', "*@cliente.test");
      await edit("add-any:when", 'select[name="when.any.1.r.0.field"]');
      await page.selectOption('select[name="when.any.1.r.0.field"]', "subject");
      await page.selectOption('select[name="when.any.1.r.0.op"]', "contains");
      await page.fill('input[name="when.any.1.r.0.value"]', "pedido");
      // What was typed before each edit is still there after it.
      assert.equal(await page.inputValue('input[name="when.any.0.r.0.value"]'), "*@cliente.test");
      assert.equal(await page.inputValue('input[name="when.s.calendars"]'), "BR-SP");

      await edit("add-not:when", 'select[name="when.not.r.0.field"]');
      await page.selectOption('select[name="when.not.r.0.field"]', "header");
      await page.selectOption('select[name="when.not.r.0.op"]', "present");
      await page.fill('input[name="when.not.r.0.arg"]', "List-Id");

      await page.fill('textarea[name="reply.text"]', EXPECTED.reply.text);
      await page.fill('input[name="reply.cc"]', "equipe@empresa.test");

      // A row added and removed again leaves the rule as it was.
      await edit("add-row:when.any.1", 'select[name="when.any.1.r.1.field"]');
      await page.click('button[name="edit"][value="remove-row:when.any.1.r.1"]');
      await page.waitForSelector('select[name="when.any.1.r.1.field"]', { state: "detached" });

      // The JSON view shows the same rule; back in the form, nothing is lost.
      await edit("view:json", 'textarea[name="definition"]');
      assert.deepEqual(JSON.parse(await page.inputValue('textarea[name="definition"]')), EXPECTED);
      await edit("view:form", 'select[name="when.not.r.0.field"]');
      assert.equal(await page.inputValue('input[name="when.not.r.0.arg"]'), "List-Id");
      assert.equal(await page.inputValue('textarea[name="reply.text"]'), EXPECTED.reply.text);

      // Preview against the stored message: the rendered reply and what the limits are.
      await page.selectOption('select[name="message_id"]', String(messageId));
      await page.click("button[formaction='/rules/preview']");
      await page.waitForSelector("#preview .reply-preview");
      const preview = await page.textContent("#preview") ?? "";
      assert.match(preview, /ana@cliente\.test/);
      assert.match(preview, /Cc: equipe@empresa\.test/);
      assert.match(preview, /Re: Pedido 4471/);
      assert.match(preview, /Olá Ana Souza,\s*estamos fora do horário/);
      assert.match(preview, /one reply per recipient every 7 d/);
      await screenshot(page, "rule-form");

      // Enter in a field saves, as the Save button does.
      await Promise.all([
        page.waitForURL(`${base}/rules`),
        page.press('input[name="name"]', "Enter"),
      ]);
      const [stored] = await listRuleRows(rig.h.db);
      assert.deepEqual(stored.definition, EXPECTED);

      // Export the rule as a file, import that file back: the same JSON.
      await page.goto(`${base}/rules/${stored.id}`);
      assert.equal(await page.inputValue('input[name="view"]'), "form");
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.click(`a[href="/rules/${stored.id}/export"]`),
      ]);
      const file = await download.path();
      const exported = JSON.parse(await Deno.readTextFile(file));
      assert.deepEqual(exported, EXPECTED);

      await page.goto(`${base}/rules/import`);
      await page.setInputFiles('input[name="file"]', file);
      await page.click('#rule-import button[type="submit"]');
      await page.waitForSelector("#rule-import .notice");
      assert.match(await page.textContent("#rule-import .notice") ?? "", /0 added, 1 replaced/);
      const after = await listRuleRows(rig.h.db);
      assert.deepEqual(after.map((r) => [r.id, r.definition]), [[stored.id, EXPECTED]]);
      const [again] = await Promise.all([
        page.waitForEvent("download"),
        page.goto(`${base}/rules`).then(() => page.click('a[href="/rules/export"]')),
      ]);
      assert.deepEqual(JSON.parse(await Deno.readTextFile(await again.path())), [EXPECTED]);

      assert.deepEqual(rig.outside, [], "no request left 127.0.0.1");
      assert.deepEqual(rig.h.errors, []);
    } finally {
      await rig.close();
    }
  },
});
