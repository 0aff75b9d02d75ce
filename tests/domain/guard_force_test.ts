import assert from "node:assert/strict";
import { checkAutoReply } from "../../src/domain/auto_reply_guard.ts";
import { exportRules, parseRules } from "../../src/domain/rules.ts";
import { buildEmail } from "../support/email_draft.ts";

const base = {
  classification: null,
  target: "sender" as const,
  accountAddresses: ["suporte@empresa.test"],
  messageIdDomain: "carteiro.empresa.test",
  connectedAt: new Date("2026-01-01T00:00:00Z"),
  receivedAt: new Date("2026-06-01T00:00:00Z"),
};

function verdict(headers: Array<[string, string]>, force: boolean): string {
  const email = buildEmail({ headers }, { from: [{ name: "", address: "loja@cliente.test" }] });
  const v = checkAutoReply({ ...base, email, force });
  return v.allowed ? "allowed" : v.reason;
}

Deno.test("force answers despite list headers and bulk precedence, never despite automation", () => {
  const unsubscribe: [string, string] = ["List-Unsubscribe", "<mailto:sair@cliente.test>"];
  const bulk: [string, string] = ["Precedence", "bulk"];
  assert.equal(verdict([unsubscribe], false), "list");
  assert.equal(verdict([unsubscribe], true), "allowed");
  assert.equal(verdict([bulk], false), "precedence");
  assert.equal(verdict([bulk], true), "allowed");
  assert.equal(
    verdict([unsubscribe, ["Auto-Submitted", "auto-generated"]], true),
    "auto_submitted",
  );
  assert.equal(verdict([bulk, ["Return-Path", "<>"]], true), "null_sender");
  assert.equal(verdict([["Content-Type", "multipart/report; report-type=x"]], true), "bounce");
});

Deno.test("reply.force is validated and round-trips", () => {
  const source = [{
    name: "pedidos",
    enabled: true,
    priority: 0,
    when: {},
    reply: { to: "sender", subject: "Re: {{subject}}", text: "ok", force: true },
  }];
  const parsed = parseRules(source);
  assert.ok(parsed.ok);
  assert.equal(parsed.rules[0].action.type === "reply" && parsed.rules[0].action.force, true);
  assert.deepEqual(exportRules(parsed.rules), source);
  const bad = parseRules([{ name: "x", reply: { to: "sender", text: "x", force: "yes" } }]);
  assert.deepEqual(bad, { ok: false, errors: ['rule 1 "x": reply.force: must be true or false'] });
});
