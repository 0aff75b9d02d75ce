import assert from "node:assert/strict";
import {
  parseAuthenticationResults,
  senderVerdict,
  type VerdictPolicy,
} from "../../src/domain/sender_verdicts.ts";
import { checkAutoReply } from "../../src/domain/auto_reply_guard.ts";
import { buildEmail } from "../support/email_draft.ts";
import type { ParsedEmail } from "../../src/domain/email.ts";

function email(headers: Array<[string, string]>): ParsedEmail {
  return buildEmail({ headers }, {
    from: [{ name: "Ana", address: "ana@cliente.test" }],
    to: [{ name: "", address: "suporte@empresa.test" }],
    subject: "Pedido",
  });
}

const policy: VerdictPolicy = {
  authservIds: ["mx.empresa.test"],
  checkAuth: true,
  checkSpam: true,
};

Deno.test("Authentication-Results is read as RFC 8601 writes it: comments, versions, quotes", () => {
  assert.deepEqual(
    parseAuthenticationResults(
      'mx.google.com;\r\n dkim=pass header.i=@cliente.test header.s=s1 header.b="a;b";\r\n' +
        " spf=fail (google.com: domain of x@cliente.test does not designate 1.2.3.4 as\r\n" +
        " permitted sender) smtp.mailfrom=x@cliente.test;\r\n dmarc=fail (p=REJECT sp=REJECT " +
        "dis=NONE) header.from=cliente.test",
    ),
    {
      authservId: "mx.google.com",
      results: [
        { method: "dkim", result: "pass" },
        { method: "spf", result: "fail" },
        { method: "dmarc", result: "fail" },
      ],
    },
  );
  assert.deepEqual(parseAuthenticationResults("MX.Empresa.test 1; none"), {
    authservId: "mx.empresa.test",
    results: [],
  });
  assert.deepEqual(
    parseAuthenticationResults("(comment) mx.empresa.test; dkim/1 = pass; spf=softfail"),
    {
      authservId: "mx.empresa.test",
      results: [{ method: "dkim", result: "pass" }, { method: "spf", result: "softfail" }],
    },
  );
  assert.equal(parseAuthenticationResults("  ; spf=fail"), null);
});

Deno.test("SPF or DMARC fail from the account's own server means auth_failed", () => {
  const spf = email([["Authentication-Results", "mx.empresa.test; spf=fail smtp.mailfrom=x"]]);
  assert.deepEqual(senderVerdict(spf, policy), {
    reason: "auth_failed",
    detail: "mx.empresa.test: spf=fail",
  });
  const dmarc = email([["Authentication-Results", "MX.EMPRESA.TEST; dmarc=fail header.from=x"]]);
  assert.equal(senderVerdict(dmarc, policy)?.reason, "auth_failed");
  for (const result of ["pass", "softfail", "neutral", "none", "temperror"]) {
    const m = email([["Authentication-Results", `mx.empresa.test; spf=${result}; dmarc=pass`]]);
    assert.equal(senderVerdict(m, policy), null, result);
  }
});

Deno.test("results stamped by another hop, or with the check off, are ignored", () => {
  const forged = email([["Authentication-Results", "mx.outro.test; spf=fail"]]);
  assert.equal(senderVerdict(forged, policy), null, "another authserv-id");
  const ours = email([["Authentication-Results", "mx.empresa.test; spf=fail"]]);
  assert.equal(senderVerdict(ours, { ...policy, checkAuth: false }), null, "switched off");
  assert.equal(senderVerdict(ours, { ...policy, authservIds: [] }), null, "no id known");
});

Deno.test("spam verdicts: X-Spam-Flag, X-Spam-Status and Microsoft's SCL from 5", () => {
  const cases: Array<[Array<[string, string]>, string | null]> = [
    [[["X-Spam-Flag", "YES"]], "X-Spam-Flag: YES"],
    [[["X-Spam-Flag", "NO"]], null],
    [[["X-Spam-Status", "Yes, score=7.3 required=5.0 tests=BAYES_99"]], "X-Spam-Status: Yes, "],
    [[["X-Spam-Status", "No, score=0.1 required=5.0"]], null],
    [[["X-MS-Exchange-Organization-SCL", "5"]], "X-MS-Exchange-Organization-SCL: 5"],
    [[["X-MS-Exchange-Organization-SCL", "9"]], "X-MS-Exchange-Organization-SCL: 9"],
    [[["X-MS-Exchange-Organization-SCL", "4"]], null],
    [[["X-MS-Exchange-Organization-SCL", "-1"]], null],
  ];
  for (const [headers, detail] of cases) {
    const v = senderVerdict(email(headers), policy);
    if (detail === null) assert.equal(v, null, JSON.stringify(headers));
    else {
      assert.equal(v?.reason, "spam", JSON.stringify(headers));
      assert.ok(v?.detail.startsWith(detail), v?.detail);
    }
  }
  const flagged = email([["X-Spam-Flag", "YES"]]);
  assert.equal(senderVerdict(flagged, { ...policy, checkSpam: false }), null, "switched off");
});

Deno.test("the guard suppresses spam by default, and auth_failed once the account names its server", () => {
  const base = {
    classification: null,
    target: "sender" as const,
    accountAddresses: ["suporte@empresa.test"],
    messageIdDomain: "carteiro.empresa.test",
    connectedAt: new Date("2026-01-01T00:00:00Z"),
    receivedAt: new Date("2026-06-01T00:00:00Z"),
  };
  const spam = checkAutoReply({ ...base, email: email([["X-Spam-Flag", "YES"]]) });
  assert.deepEqual(spam, { allowed: false, reason: "spam", detail: "X-Spam-Flag: YES" });
  const forged = email([["Authentication-Results", "mx.empresa.test; spf=fail"]]);
  assert.equal(checkAutoReply({ ...base, email: forged }).allowed, true, "no authserv-id set");
  const refused = checkAutoReply({
    ...base,
    email: forged,
    verdicts: { authservIds: ["mx.empresa.test"] },
  });
  assert.equal(refused.allowed ? "allowed" : refused.reason, "auth_failed");
});
