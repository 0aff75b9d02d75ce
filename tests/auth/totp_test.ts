import assert from "node:assert/strict";
import * as OTPAuth from "otpauth";
import {
  newRecoveryCodes,
  newTotpSecret,
  qrSvg,
  totpStepOf,
  totpUri,
} from "../../src/auth/totp.ts";

const AT = new Date("2026-03-10T12:00:10Z");

function codeAt(secret: string, at: Date): string {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({
    timestamp: at.getTime(),
  });
}

Deno.test("totp: SHA-1, 6 digits, 30 s; one step either side accepted, two refused", () => {
  const secret = newTotpSecret();
  assert.match(secret, /^[A-Z2-7]{32}$/, "160 bits in base32");
  const step = Math.floor(AT.getTime() / 30_000);
  assert.equal(totpStepOf(secret, codeAt(secret, AT), AT), step);
  assert.equal(totpStepOf(secret, codeAt(secret, new Date(AT.getTime() - 30_000)), AT), step - 1);
  assert.equal(totpStepOf(secret, codeAt(secret, new Date(AT.getTime() + 30_000)), AT), step + 1);
  const far = codeAt(secret, new Date(AT.getTime() - 90_000));
  if (far !== codeAt(secret, AT)) assert.equal(totpStepOf(secret, far, AT), null);
  assert.equal(totpStepOf(secret, "12345", AT), null);
  assert.equal(totpStepOf(secret, "abcdef", AT), null);
});

Deno.test("totp: the URI names the issuer and the user; the QR code is an SVG without script", async () => {
  const secret = newTotpSecret();
  const uri = totpUri(secret, "ana@example.test");
  assert.match(uri, /^otpauth:\/\/totp\/Carteiro:ana%40example\.test\?/);
  assert.match(uri, new RegExp(`secret=${secret}`));
  assert.match(uri, /algorithm=SHA1&digits=6&period=30/);
  const svg = await qrSvg(uri);
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.doesNotMatch(svg, /<script|href=/i);
});

Deno.test("recovery codes: ten, all different", () => {
  const codes = newRecoveryCodes();
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
});
