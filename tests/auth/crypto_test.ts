import assert from "node:assert/strict";
import {
  constantTimeEqual,
  DUMMY_PASSWORD_HASH,
  hashPassword,
  PBKDF2_ITERATIONS,
  verifyPassword,
} from "../../src/auth/password_hash.ts";
import { createSecretBox, SecretKeyError } from "../../src/auth/secret_box.ts";

Deno.test("password hashes: PBKDF2-SHA256, 600k iterations, salted, verified in constant time", async () => {
  assert.ok(PBKDF2_ITERATIONS >= 600_000);
  const a = await hashPassword("senha muito secreta");
  const b = await hashPassword("senha muito secreta");
  assert.notEqual(a, b, "a random salt per hash");
  assert.ok(await verifyPassword("senha muito secreta", a));
  assert.ok(!await verifyPassword("senha muito secreta!", a));
  assert.ok(!await verifyPassword("anything", DUMMY_PASSWORD_HASH));
  assert.ok(!await verifyPassword("x", "md5$abc"));
  assert.ok(!await verifyPassword("x", "pbkdf2-sha256$99999999999$AA==$AA=="));
  assert.ok(!await verifyPassword("x", "pbkdf2-sha256$1000$!!!$???"));
  // Old hashes with fewer iterations still verify (the count is stored with the hash).
  assert.ok(await verifyPassword("p", await hashPassword("p", 1000)));
  assert.ok(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
  assert.ok(!constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
  assert.ok(!constantTimeEqual(new Uint8Array([1]), new Uint8Array([1, 0])));
});

Deno.test("secret box: AES-GCM, a fresh nonce each time, bound to its field, fails closed", async () => {
  const box = createSecretBox("a-very-long-secret-key-for-tests");
  const x = await box.encrypt("imap_pass", "hunter2hunter2");
  const y = await box.encrypt("imap_pass", "hunter2hunter2");
  assert.notEqual(x, y);
  assert.ok(!x.includes("hunter2"));
  assert.equal(await box.decrypt("imap_pass", x), "hunter2hunter2");
  await assert.rejects(() => box.decrypt("smtp_pass", x), SecretKeyError, "moved to another field");
  const other = createSecretBox("another-long-secret-key-for-tests");
  await assert.rejects(
    () => other.decrypt("imap_pass", x),
    /cannot be decrypted with this SECRET_KEY/,
  );
  const tampered = x.slice(0, -4) + (x.endsWith("AAA=") ? "BBB=" : "AAA=");
  await assert.rejects(() => box.decrypt("imap_pass", tampered), SecretKeyError);
  await assert.rejects(() => box.decrypt("imap_pass", "plain text"), SecretKeyError);
  const none = createSecretBox(null);
  await assert.rejects(() => none.encrypt("imap_pass", "x"), /SECRET_KEY is not set/);
  await assert.rejects(() => createSecretBox("short").encrypt("imap_pass", "x"), /shorter than 16/);
});
