import assert from "node:assert/strict";
import {
  isRecoveryCodeShape,
  isTotpCode,
  normalRecoveryCode,
  RECOVERY_CODE_LENGTH,
  recoveryCodeFrom,
  stepAccepted,
} from "../../src/domain/second_factor.ts";

Deno.test("recovery codes: groups of four from unambiguous characters, read back however typed", () => {
  const bytes = Uint8Array.from({ length: RECOVERY_CODE_LENGTH }, (_, i) => i * 37);
  const code = recoveryCodeFrom(bytes);
  assert.match(code, /^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
  assert.doesNotMatch(code, /[01ilo]/);
  assert.equal(
    normalRecoveryCode(` ${code.toUpperCase().replaceAll("-", " ")} `),
    code.replaceAll("-", ""),
  );
  assert.ok(isRecoveryCodeShape(code));
  assert.ok(isRecoveryCodeShape(code.toUpperCase()));
  assert.ok(!isRecoveryCodeShape(code.slice(0, -1)), "one character short");
  assert.ok(!isRecoveryCodeShape(code.slice(0, -1) + "0"), "a character not in the alphabet");
});

Deno.test("totp codes: six digits (a space allowed); anything else is read as a recovery code", () => {
  assert.ok(isTotpCode("123456"));
  assert.ok(isTotpCode("123 456"));
  assert.ok(!isTotpCode("12345"));
  assert.ok(!isTotpCode("1234567"));
  assert.ok(!isTotpCode("abcd-efgh-jkmn-pqrs"));
});

Deno.test("totp steps: a code is taken once; a step at or before the last accepted one is refused", () => {
  assert.ok(stepAccepted(101, 100));
  assert.ok(!stepAccepted(100, 100), "the same time-step again");
  assert.ok(!stepAccepted(99, 100), "an older step still inside the drift window");
  assert.ok(stepAccepted(1, 0), "nothing accepted yet");
});
