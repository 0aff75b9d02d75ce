import assert from "node:assert/strict";
import { roleIncludes, roleNeeded } from "../../src/domain/roles.ts";

Deno.test("roles: viewers read, operators run the desk, admins manage; unknown changes are admin's", () => {
  const cases: [string, string, string][] = [
    ["GET", "/messages", "viewer"],
    // Exporting is reading: every role may download what it may see.
    ["GET", "/messages/export", "viewer"],
    ["GET", "/outbox/export", "viewer"],
    ["GET", "/rules/3", "viewer"],
    ["GET", "/accounts", "viewer"],
    ["GET", "/users", "admin"],
    ["GET", "/tokens", "admin"],
    ["POST", "/tokens/4/revoke", "admin"],
    ["GET", "/webhooks", "admin"],
    ["POST", "/webhooks/deliveries/3/resend", "admin"],
    ["POST", "/logout", "viewer"],
    ["POST", "/password", "viewer"],
    ["POST", "/outbox/7/settle", "operator"],
    ["POST", "/rules", "operator"],
    ["POST", "/rules/2/delete", "operator"],
    ["POST", "/exceptions", "operator"],
    ["POST", "/breakers/1/reset", "operator"],
    ["POST", "/messages/9/classification", "operator"],
    ["POST", "/messages/9/images", "viewer"],
    ["POST", "/accounts", "admin"],
    ["POST", "/accounts/1/test", "admin"],
    ["POST", "/users/2/remove", "admin"],
    ["POST", "/something-new", "admin"],
    ["DELETE", "/rulesx", "admin"],
  ];
  for (const [method, path, role] of cases) {
    assert.equal(roleNeeded(method, path), role, `${method} ${path}`);
  }
});

Deno.test("roles include the ones below them", () => {
  assert.ok(roleIncludes("admin", "operator") && roleIncludes("admin", "viewer"));
  assert.ok(roleIncludes("operator", "viewer") && !roleIncludes("operator", "admin"));
  assert.ok(roleIncludes("viewer", "viewer") && !roleIncludes("viewer", "operator"));
});

Deno.test("roles: every person turns their own second factor on and off; another's is an admin's", () => {
  for (
    const path of ["/security", "/security/totp", "/security/totp/confirm", "/security/totp/off"]
  ) {
    assert.equal(roleNeeded("POST", path), "viewer", `POST ${path}`);
  }
  assert.equal(roleNeeded("GET", "/security"), "viewer");
  assert.equal(roleNeeded("POST", "/securityx"), "admin", "only the /security page itself");
  assert.equal(roleNeeded("POST", "/users/3/totp-off"), "admin");
});
