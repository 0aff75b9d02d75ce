import assert from "node:assert/strict";
import { classifySmtpAnswer, enhancedCode, quotaWaitMs } from "../../src/domain/smtp_answer.ts";

Deno.test("quota answers wait, whatever their first digit", () => {
  const quota: Array<[number, string]> = [
    [550, "5.4.5 Daily user sending quota exceeded. d2-20020a05 - gsmtp"],
    [421, "4.7.0 Try again later, closing connection. (MAIL) gsmtp"],
    [432, "4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded"],
    [554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed"],
    [550, "5.2.2 STOREDRV.Submission.Exception:SubmissionQuotaExceededException"],
    [451, "4.7.28 rate limited"],
    [452, "4.5.3 Too many messages, try again later"],
  ];
  for (const [code, text] of quota) assert.equal(classifySmtpAnswer(code, text), "quota", text);
});

Deno.test("a refused login is about the account, not the reply", () => {
  const auth: Array<[number, string, "auth" | "other"]> = [
    [535, "5.7.8 Username and Password not accepted", "auth"],
    [535, "5.7.3 Authentication unsuccessful", "other"],
    [
      550,
      "5.7.30 Basic authentication is not supported for Client Submission. Visit https://aka.ms/smtp_auth_disabled",
      "other",
    ],
    [535, "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled", "auth"],
    [530, "5.7.0 Authentication Required", "other"],
    [504, "5.7.4 Unrecognized authentication type", "auth"],
  ];
  for (const [code, text, cmd] of auth) {
    assert.equal(classifySmtpAnswer(code, text, cmd), "auth", text);
  }
});

Deno.test("other answers keep their first digit's meaning", () => {
  assert.equal(classifySmtpAnswer(450, "4.2.1 mailbox busy"), "temporary");
  assert.equal(classifySmtpAnswer(421, "4.4.2 connection timed out"), "temporary");
  assert.equal(classifySmtpAnswer(550, "5.1.1 no such user"), "permanent");
  assert.equal(classifySmtpAnswer(552, "5.2.2 mailbox full"), "permanent");
  assert.equal(classifySmtpAnswer(554, "5.7.1 relay access denied"), "permanent");
  // A temporary failure of the login is a temporary failure.
  assert.equal(
    classifySmtpAnswer(454, "4.7.0 Temporary authentication failure", "auth"),
    "temporary",
  );
  assert.equal(classifySmtpAnswer(null, "connection refused"), null);
});

Deno.test("a daily quota waits an hour, a rate limit five minutes", () => {
  assert.equal(quotaWaitMs("550 5.4.5 Daily user sending quota exceeded"), 3_600_000);
  assert.equal(quotaWaitMs("421 4.7.0 Try again later"), 300_000);
  assert.equal(enhancedCode("550-5.4.5 Daily user"), "5.4.5");
  assert.equal(enhancedCode("no code here 1.2"), null);
});
