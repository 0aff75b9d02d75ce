import assert from "node:assert/strict";
import {
  addressScope,
  isLoopbackHost,
  isPrivateAddress,
} from "../../src/domain/private_address.ts";

Deno.test("address scopes: loopback, private, link-local and public, IPv4 and IPv6", () => {
  const cases: Array<[string, string | null]> = [
    ["127.0.0.1", "loopback"],
    ["127.8.9.10", "loopback"],
    ["0.0.0.0", "loopback"],
    ["::1", "loopback"],
    ["[::1]", "loopback"],
    ["::", "loopback"],
    ["10.0.0.1", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", "public"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "private"],
    ["169.254.169.254", "link-local"],
    ["fc00::1", "private"],
    ["fd12:3456::1", "private"],
    ["fe80::1%eth0", "link-local"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:8.8.8.8", "public"],
    ["8.8.8.8", "public"],
    ["2001:4860:4860::8888", "public"],
    ["256.1.1.1", null],
    ["imap.example.com", null],
    ["1::2::3", null],
  ];
  for (const [address, scope] of cases) assert.equal(addressScope(address), scope, address);
  assert.ok(isPrivateAddress("192.168.0.1"));
  assert.ok(!isPrivateAddress("imap.example.com"));
  for (const h of ["localhost", "LOCALHOST.", "a.localhost", "127.0.0.1", "::1"]) {
    assert.ok(isLoopbackHost(h), h);
  }
  for (const h of ["10.0.0.1", "mail.example.com", "localhost.example.com"]) {
    assert.ok(!isLoopbackHost(h), h);
  }
});
