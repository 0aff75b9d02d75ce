import assert from "node:assert/strict";
import {
  legacyTlsMode,
  readTlsMode,
  TLS_MODES,
  tlsModeProblem,
} from "../../src/domain/tls_mode.ts";

Deno.test("a mode is read by its name, and an older client's box as it meant", () => {
  for (const mode of TLS_MODES) assert.equal(readTlsMode("imap", mode, 993), mode);
  assert.equal(readTlsMode("smtp", " STARTTLS ", 587), "starttls");
  // IMAP: checked is TLS from the first byte, unchecked STARTTLS (never plain).
  assert.equal(readTlsMode("imap", "true", 143), "tls");
  assert.equal(readTlsMode("imap", "1", 993), "tls");
  assert.equal(readTlsMode("imap", "false", 143), "starttls");
  assert.equal(readTlsMode("imap", "", 143), "starttls");
  // SMTP: checked is TLS from the first byte on 465 only; elsewhere it upgrades with STARTTLS.
  assert.equal(readTlsMode("smtp", "on", 465), "tls");
  assert.equal(readTlsMode("smtp", "true", 587), "starttls");
  assert.equal(readTlsMode("smtp", "false", 465), "starttls");
  assert.equal(legacyTlsMode("smtp", true, 25), "starttls");
  for (const bad of ["ssl", "none", "yes", "2"]) assert.equal(readTlsMode("imap", bad, 993), null);
});

Deno.test("plain is allowed to loopback hosts only, with a clear error elsewhere", () => {
  for (const host of ["127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost", "LOCALHOST."]) {
    assert.equal(tlsModeProblem("imap", "plain", host), null, host);
    assert.equal(tlsModeProblem("smtp", "plain", host), null, host);
  }
  for (const host of ["mail.example.com", "10.0.0.5", "192.168.1.2", "128.0.0.1", "::2"]) {
    const problem = tlsModeProblem("smtp", "plain", host);
    assert.match(
      problem ?? "",
      new RegExp(`^smtp_tls: plain .* only to a loopback host .*not ${host.replace(/\./g, "\\.")}`),
    );
  }
  // TLS and STARTTLS go anywhere.
  assert.equal(tlsModeProblem("imap", "tls", "mail.example.com"), null);
  assert.equal(tlsModeProblem("imap", "starttls", "mail.example.com"), null);
});
