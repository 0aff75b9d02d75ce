/** Retention and erasure, the pure part: days to keep, the keys kept, the address erased. */
import assert from "node:assert/strict";
import {
  addressHash,
  contentKey,
  forgottenKeys,
  keepCutoff,
  messageIdKey,
  readErasureAddress,
  readKeepDays,
} from "../../src/domain/retention.ts";
import { readAccountSettings } from "../../src/domain/account_settings.ts";
import { sha256Hex } from "../../src/domain/sha256.ts";

Deno.test("keep days: null or empty is for ever, else a whole number from 1 to 36500", () => {
  const errors: string[] = [];
  assert.equal(readKeepDays(null, "k", errors), null);
  assert.equal(readKeepDays("", "k", errors), null);
  assert.equal(readKeepDays(30, "k", errors), 30);
  assert.equal(readKeepDays(" 7 ", "k", errors), 7);
  assert.equal(readKeepDays(36_500, "k", errors), 36_500);
  assert.deepEqual(errors, []);
  for (const bad of [0, -1, 1.5, 36_501, "7d", true, [3]]) {
    const e: string[] = [];
    readKeepDays(bad, "keep_raw_days", e);
    assert.equal(e.length, 1, JSON.stringify(bad));
    assert.match(e[0], /^keep_raw_days: must be a whole number of days from 1 to 36500/);
  }
  assert.deepEqual(
    keepCutoff(new Date("2026-06-01T10:00:00Z"), 30),
    new Date("2026-05-02T10:00:00Z"),
  );
});

Deno.test("account settings read and export the keep days like the other keys", () => {
  const r = readAccountSettings({ keep_raw_days: 7, keep_messages_days: null });
  assert.ok(r.ok);
  assert.equal(r.settings.keepRawDays, 7);
  assert.equal(r.settings.keepMessagesDays, null);
  const kept = readAccountSettings({ check_spam: false }, r.settings);
  assert.ok(kept.ok);
  assert.equal(kept.settings.keepRawDays, 7, "a PATCH keeps what it does not name");
  const bad = readAccountSettings({ keep_messages_days: 0, keep_raw_days: "x" });
  assert.deepEqual(bad.ok ? [] : bad.errors.map((e) => e.split(":")[0]), [
    "keep_raw_days",
    "keep_messages_days",
  ]);
});

Deno.test("the keys kept of a removed answered message are hashes of its identity", () => {
  const sha = "AB".repeat(32);
  const keys = forgottenKeys({
    accountId: 3,
    rawSha256: sha,
    messageIdHeader: "<pedido-1@cliente.test>",
    dedupKeys: [`v1/3/${sha.toLowerCase()}/ack`],
  });
  assert.deepEqual(keys, [
    { kind: "dedup", sha256: sha256Hex(`v1/3/${sha.toLowerCase()}/ack`) },
    { kind: "content", sha256: contentKey(3, sha.toLowerCase()) },
    { kind: "message_id", sha256: messageIdKey(3, "pedido-1@cliente.test")! },
  ]);
  for (const k of keys) assert.match(k.sha256, /^[0-9a-f]{64}$/);
  // Another account's copy is another message; no Message-ID, no such key.
  assert.notEqual(contentKey(4, sha), contentKey(3, sha));
  assert.equal(messageIdKey(3, null), null);
  assert.equal(messageIdKey(3, " <> "), null);
  assert.equal(
    forgottenKeys({ accountId: 3, rawSha256: sha, messageIdHeader: null, dedupKeys: [] }).length,
    1,
  );
});

Deno.test("an erasure names one address, and the audit only its hash", () => {
  assert.deepEqual(readErasureAddress(" Zeca@Cliente.TEST "), {
    ok: true,
    address: "zeca@cliente.test",
  });
  for (const bad of ["", "zeca", "@cliente.test", "zeca@", "a b@c.test", "<a@b.test>", 7, null]) {
    assert.equal(readErasureAddress(bad).ok, false, JSON.stringify(bad));
  }
  assert.equal(addressHash(" Zeca@Cliente.TEST"), sha256Hex("zeca@cliente.test"));
});
