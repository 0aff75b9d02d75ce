import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import {
  accountHealthChange,
  checkWebhookUrl,
  nextWebhookAttempt,
  parseWebhookEvents,
  signWebhook,
  verifyWebhookSignature,
  WEBHOOK_DEADLINE_MS,
  WEBHOOK_EVENTS,
  webhookBody,
  webhookEventOf,
} from "../../src/domain/webhooks.ts";

const AT = new Date("2026-03-01T12:00:00Z");

Deno.test("the signature is HMAC-SHA256 of `t.body` under the secret, with its timestamp", () => {
  const body = '{"id":"x"}';
  const header = signWebhook("whsec_abc", AT, body);
  const t = AT.getTime() / 1000;
  const hex = createHmac("sha256", "whsec_abc").update(`${t}.${body}`).digest("hex");
  assert.equal(header, `t=${t},v1=${hex}`);
});

Deno.test("a signature verifies with its secret and body, within the tolerance only", () => {
  const body = webhookBody({
    id: "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    type: "reply.sent",
    createdAt: AT,
    accountId: 3,
    data: { outbox_id: 9 },
  });
  const header = signWebhook("s3cret", AT, body);
  assert.equal(verifyWebhookSignature("s3cret", header, body, AT), true);
  assert.equal(verifyWebhookSignature("other", header, body, AT), false, "another secret");
  assert.equal(verifyWebhookSignature("s3cret", header, body + " ", AT), false, "another body");
  const later = new Date(AT.getTime() + 301_000);
  assert.equal(verifyWebhookSignature("s3cret", header, body, later), false, "too old");
  assert.equal(verifyWebhookSignature("s3cret", "v1=abc", body, AT), false, "no timestamp");
  assert.equal(verifyWebhookSignature("s3cret", "t=1,v1=zz", body, AT), false);
});

Deno.test("the body has the event id, type, time, account and data, in that order", () => {
  const body = webhookBody({
    id: "e1",
    type: "message.stored",
    createdAt: AT,
    accountId: null,
    data: { message_id: 4 },
  });
  assert.equal(
    body,
    '{"id":"e1","type":"message.stored","created_at":"2026-03-01T12:00:00.000Z",' +
      '"account_id":null,"data":{"message_id":4}}',
  );
});

Deno.test("retries back off exponentially from the base, capped at an hour, until a day", () => {
  const deadline = new Date(AT.getTime() + WEBHOOK_DEADLINE_MS);
  const delays = [1, 2, 3, 4, 5, 10, 20].map((n) =>
    nextWebhookAttempt(AT, n, deadline)!.getTime() - AT.getTime()
  );
  assert.deepEqual(delays, [10_000, 20_000, 40_000, 80_000, 160_000, 3_600_000, 3_600_000]);
  // Walking the schedule from the first attempt gives up once the next try is past the day.
  let at = AT;
  let attempt = 1;
  while (true) {
    const next = nextWebhookAttempt(at, attempt, deadline);
    if (!next) break;
    at = next;
    attempt++;
  }
  assert.ok(at.getTime() <= deadline.getTime());
  assert.ok(at.getTime() > deadline.getTime() - 3_600_000, `gave up at ${at.toISOString()}`);
  assert.ok(attempt > 20 && attempt < 40, `${attempt} attempts`);
});

Deno.test("events are read from a list or a string; * is all; unknown ones are named", () => {
  assert.deepEqual(parseWebhookEvents("reply.sent, message.stored"), {
    ok: true,
    events: ["message.stored", "reply.sent"],
  });
  assert.deepEqual(parseWebhookEvents(["*"]), { ok: true, events: [...WEBHOOK_EVENTS] });
  const bad = parseWebhookEvents("reply.sent reply.lost");
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.error : "", /"reply\.lost"/);
  assert.equal(parseWebhookEvents("").ok, false);
});

Deno.test("an endpoint's URL is absolute http(s), without credentials", () => {
  assert.deepEqual(checkWebhookUrl(" https://hooks.example.com/x "), {
    ok: true,
    url: "https://hooks.example.com/x",
  });
  assert.equal(checkWebhookUrl("ftp://example.com/").ok, false);
  assert.equal(checkWebhookUrl("https://u:p@example.com/").ok, false);
  assert.equal(checkWebhookUrl("/relative").ok, false);
});

Deno.test("an endpoint that is this machine or a private network by its name is refused unless allowed", () => {
  const inside = [
    "http://127.0.0.1:8080/hooks",
    "http://[::1]/hooks",
    "http://localhost/hooks",
    "https://api.localhost/hooks",
    "http://10.1.2.3/hooks",
    "https://192.168.0.5/hooks",
    "http://[fd00::5]/hooks",
  ];
  for (const url of inside) {
    const refused = checkWebhookUrl(url);
    assert.equal(refused.ok, false, url);
    if (!refused.ok) {
      assert.match(refused.error, /private network.*\(set WEBHOOK_ALLOW_PRIVATE=1 to allow it\)/);
    }
    assert.equal(checkWebhookUrl(url, true).ok, true, `${url} with WEBHOOK_ALLOW_PRIVATE`);
  }
  // A public address, and a name: whether a name is inside is known only when it is resolved.
  assert.equal(checkWebhookUrl("https://8.8.8.8/hooks").ok, true);
  assert.equal(checkWebhookUrl("https://intranet.example.com/hooks").ok, true);
});

Deno.test("an account is failing at the third failure in a row, recovered by a success after", () => {
  assert.equal(accountHealthChange(0, true), null);
  assert.equal(accountHealthChange(1, true), null);
  assert.equal(accountHealthChange(2, true), "failing");
  assert.equal(accountHealthChange(3, true), null, "told once");
  assert.equal(accountHealthChange(2, false), null, "never failing: nothing to recover from");
  assert.equal(accountHealthChange(5, false), "recovered");
  assert.equal(accountHealthChange(0, false), null);
});

Deno.test("audit events map to webhook events; others are not told", () => {
  const told = webhookEventOf({
    event: "sent",
    at: AT,
    accountId: 2,
    messageId: 7,
    detail: { outbox_id: 5, recipient: "a@b.test", attempt: 1, result: "accepted" },
  }, () => "id-1");
  assert.deepEqual(told, {
    id: "id-1",
    type: "reply.sent",
    createdAt: AT,
    accountId: 2,
    data: { message_id: 7, outbox_id: 5, recipient: "a@b.test", attempt: 1, result: "accepted" },
  });
  const failing = webhookEventOf({
    event: "smtp_auth_failed",
    at: AT,
    accountId: 2,
    detail: { error: "535" },
  }, () => "id-2");
  assert.equal(failing?.type, "account.failing");
  assert.deepEqual(failing?.data, { source: "smtp", error: "535" });
  assert.equal(
    webhookEventOf({ event: "logout", at: AT, detail: { email: "x@y" } }, () => "id"),
    null,
  );
});
