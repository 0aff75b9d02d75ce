import assert from "node:assert/strict";
import {
  DEFAULT_ACCOUNT_REPLY_SETTINGS,
  exportAccountSettings,
  readAccountSettings,
} from "../../src/domain/account_settings.ts";
import { exportRules, parseRules } from "../../src/domain/rules.ts";

Deno.test("account settings: a PATCH keeps what it does not name and reads back the same", () => {
  const first = readAccountSettings({
    time_zone: " Europe/Lisbon ",
    authserv_ids: ["MX.Google.com", "mx.google.com"],
    trusted_forwarders: ["Empresa.test", "chefe@outra.test"],
  });
  assert.ok(first.ok);
  assert.deepEqual(first.settings, {
    ...DEFAULT_ACCOUNT_REPLY_SETTINGS,
    timeZone: "Europe/Lisbon",
    authservIds: ["mx.google.com"],
    trustedForwarders: ["empresa.test", "chefe@outra.test"],
  });
  const second = readAccountSettings({ check_auth: false, time_zone: "" }, first.settings);
  assert.ok(second.ok);
  assert.equal(second.settings.timeZone, null, "empty: the server's zone");
  assert.equal(second.settings.checkAuth, false);
  assert.deepEqual(second.settings.authservIds, ["mx.google.com"]);
  const json = exportAccountSettings(second.settings);
  const back = readAccountSettings(json);
  assert.ok(back.ok);
  assert.deepEqual(back.settings, second.settings);
});

Deno.test("account settings: every problem at once, each with its key", () => {
  const r = readAccountSettings({
    time_zone: "America/Sao Paulo",
    authserv_ids: "mx.google.com",
    check_spam: 1,
    trusted_forwarders: ["ok.test", "", "x@@y"],
    limits: { cool_down_seconds: -1, burst: 3 },
    colour: "blue",
  });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.errors.map((e) => e.slice(0, e.indexOf(":"))), [
    "colour",
    "time_zone",
    "authserv_ids",
    "check_spam",
    "trusted_forwarders[1]",
    "limits.burst",
    "limits.cool_down_seconds",
  ]);
  assert.match(r.errors[1], /is not an IANA time zone \(e\.g\. "America\/Sao_Paulo"/);
  const badId = readAccountSettings({ authserv_ids: ["mx google"] });
  assert.deepEqual(badId.ok ? [] : badId.errors.map((e) => e.split(":")[0]), ["authserv_ids[0]"]);
  const badForwarder = readAccountSettings({ trusted_forwarders: ["a@b@c"] });
  assert.deepEqual(badForwarder.ok ? [] : badForwarder.errors, [
    "trusted_forwarders[0]: has more than one @",
  ]);
  assert.equal(readAccountSettings([]).ok, false);
});

Deno.test("a rule's limits: validated with their path, exported as written", () => {
  const rule = {
    name: "vacation",
    enabled: true,
    priority: 0,
    limits: {
      breakers: [{ scope: "account", max: 50, within_seconds: 600 }],
      cool_down_seconds: null,
    },
    when: { kind: "direct" },
    reply: { to: "sender", subject: "Re: {{subject}}", text: "Fora." },
  };
  const parsed = parseRules([rule]);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.rules[0].limits, {
    breakers: [{ scope: "account", max: 50, withinSeconds: 600 }],
    coolDownSeconds: null,
  });
  assert.deepEqual(exportRules(parsed.rules)[0].limits, rule.limits);
  const bad = parseRules([{ ...rule, limits: { breakers: [{ scope: "thread", max: 1 }] } }]);
  assert.deepEqual(bad.ok ? [] : bad.errors, [
    'rule 1 "vacation": limits.breakers[0].scope: must be "recipient" or "account"',
    'rule 1 "vacation": limits.breakers[0].within_seconds: must be a whole number of seconds from 1 to 86400',
  ]);
  const none = parseRules([{ ...rule, limits: undefined }]);
  assert.ok(none.ok);
  assert.equal("limits" in exportRules(none.rules)[0], false);
});
