import assert from "node:assert/strict";
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  maxMessageMb,
  parseMaxMessageMb,
  tooLargeReason,
} from "../../src/domain/message_size.ts";

Deno.test("the largest message: whole MB from 1 to 1024, blank is 50 MB", () => {
  assert.deepEqual(parseMaxMessageMb(""), { ok: true, bytes: DEFAULT_MAX_MESSAGE_BYTES });
  assert.deepEqual(parseMaxMessageMb(undefined), { ok: true, bytes: 50 * 2 ** 20 });
  assert.deepEqual(parseMaxMessageMb(" 25 "), { ok: true, bytes: 25 * 2 ** 20 });
  assert.deepEqual(parseMaxMessageMb(1024), { ok: true, bytes: 2 ** 30 });
  for (const bad of ["0", "1025", "2.5", "-3", "50MB", "abc"]) {
    assert.deepEqual(parseMaxMessageMb(bad), { ok: false }, bad);
  }
  assert.equal(maxMessageMb(DEFAULT_MAX_MESSAGE_BYTES), 50);
});

Deno.test("the reason names the size, the limit and what to do", () => {
  assert.equal(
    tooLargeReason(150 * 2 ** 20, 50 * 2 ** 20),
    "too large: 150 MB is over the account's limit of 50 MB; only its headers are stored. To " +
      "collect such mail whole, raise the account's max_message_mb (mail already passed over " +
      "stays as it is)",
  );
  assert.match(tooLargeReason(7_800_000, 4 * 2 ** 20), /^too large: 7\.4 MB .* limit of 4 MB;/);
});
