import assert from "node:assert/strict";
import {
  parseTokenExpiry,
  parseTokenScopes,
  scopeAllows,
  scopeNeeded,
  tokenRefusal,
} from "../../src/domain/token_access.ts";

Deno.test("scopes: a list or a string, canonical order, each once; unknown and empty refused", () => {
  assert.deepEqual(parseTokenScopes("metrics, read"), { ok: true, scopes: ["read", "metrics"] });
  assert.deepEqual(parseTokenScopes(["WRITE", "write"]), { ok: true, scopes: ["write"] });
  assert.deepEqual(parseTokenScopes("read admin"), {
    ok: false,
    error: 'scopes: unknown "admin"; use read, write, metrics',
  });
  assert.equal(parseTokenScopes([]).ok, false);
  assert.equal(parseTokenScopes(" , ").ok, false);
});

Deno.test("scope needed: /metrics needs metrics, API reads read, every other method write", () => {
  assert.equal(scopeNeeded("GET", "/metrics"), "metrics");
  assert.equal(scopeNeeded("GET", "/api/v1/messages"), "read");
  assert.equal(scopeNeeded("HEAD", "/api/v1/stats"), "read");
  for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
    assert.equal(scopeNeeded(method, "/api/v1/rules/3"), "write", method);
  }
});

Deno.test("scope allows: write includes read; metrics is apart from both", () => {
  assert.ok(scopeAllows(["write"], "read"));
  assert.ok(scopeAllows(["read"], "read"));
  assert.ok(!scopeAllows(["read"], "write"));
  assert.ok(!scopeAllows(["metrics"], "read"));
  assert.ok(!scopeAllows(["read", "write"], "metrics"));
  assert.ok(scopeAllows(["metrics"], "metrics"));
});

Deno.test("expiry: a day lasts to its end (UTC); past, today's past instant and bad dates refused", () => {
  const now = new Date("2026-12-06T12:00:00Z");
  assert.deepEqual(parseTokenExpiry("2026-12-06", now), {
    ok: true,
    at: new Date("2026-12-06T23:59:59.999Z"),
  });
  assert.deepEqual(parseTokenExpiry("2027-01-01T08:00:00Z", now), {
    ok: true,
    at: new Date("2027-01-01T08:00:00Z"),
  });
  for (const bad of ["2026-12-05", "2026-12-06T11:00:00Z", "2027-02-30", "tomorrow", "2027-1-1"]) {
    assert.deepEqual(parseTokenExpiry(bad, now), { ok: false }, bad);
  }
});

Deno.test("refusal: revoked before expired; the expiry instant itself is past", () => {
  const at = new Date("2026-12-06T12:00:00Z");
  assert.equal(tokenRefusal({ revokedAt: null, expiresAt: null }, at), null);
  assert.equal(tokenRefusal({ revokedAt: null, expiresAt: new Date(at.getTime() + 1) }, at), null);
  assert.equal(tokenRefusal({ revokedAt: null, expiresAt: at }, at), "expired");
  assert.equal(tokenRefusal({ revokedAt: at, expiresAt: at }, at), "revoked");
});
