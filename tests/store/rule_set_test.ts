import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import { parseRules } from "../../src/domain/rules.ts";
import { loadRules, replaceRules } from "../../src/store/rule_set.ts";

const AT = new Date("2026-05-01T00:00:00Z");

function rules(json: unknown) {
  const parsed = parseRules(json);
  if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
  return parsed.rules;
}

const ACK = {
  name: "ack-direct",
  enabled: true,
  when: { kind: "direct" },
  reply: {
    to: "sender",
    subject: "Re: {{subject}}",
    text: "Recebemos.",
    html: "<p>Recebemos.</p>",
  },
};

storeTest("rules are replaced as a set and come back in order", async (db) => {
  await replaceRules(db, rules([ACK, { ...ACK, name: "second", enabled: false }]), AT);
  assert.deepEqual((await loadRules(db)).map((r) => [r.name, r.enabled]), [
    ["ack-direct", true],
    ["second", false],
  ]);
  const [{ id }] = await db.query<{ id: number }>("SELECT id FROM rules WHERE name = 'ack-direct'");
  await replaceRules(db, rules([{ ...ACK, name: "third" }, ACK]), AT);
  assert.deepEqual((await loadRules(db)).map((r) => r.name), ["third", "ack-direct"]);
  const [kept] = await db.query<{ id: number }>("SELECT id FROM rules WHERE name = 'ack-direct'");
  assert.equal(kept.id, id, "a rule that stays keeps its row");
});
