import assert from "node:assert/strict";
import {
  connectionCap,
  defaultConnectionCap,
  idlePlan,
  LEASE_EXPIRY_MS,
  LEASE_HEARTBEAT_MS,
  LEASE_SELF_STOP_MS,
  leaseStillOurs,
  parseConnectionCap,
  RESERVED_CONNECTIONS,
} from "../../src/domain/idle_leases.ts";

Deno.test("default caps keep a margin under each provider's limit", () => {
  assert.equal(defaultConnectionCap("imap.gmail.com"), 10, "Gmail allows 15");
  assert.equal(defaultConnectionCap("IMAP.Gmail.com."), 10);
  assert.equal(defaultConnectionCap("outlook.office365.com"), 15, "Exchange Online allows 20");
  assert.equal(defaultConnectionCap("imap.empresa.example.test"), 10);
  assert.equal(connectionCap({ imapHost: "imap.gmail.com", imapConnectionCap: 3 }), 3);
  assert.equal(connectionCap({ imapHost: "outlook.office365.com", imapConnectionCap: null }), 15);
});

Deno.test("the plan: mailboxes in order up to the cap less the reserved connections", () => {
  assert.equal(RESERVED_CONNECTIONS, 2);
  assert.deepEqual(idlePlan(["INBOX", "Suporte", "Vendas"], 10), {
    cap: 10,
    slots: 8,
    idle: ["INBOX", "Suporte", "Vendas"],
    cronOnly: [],
  });
  assert.deepEqual(idlePlan(["INBOX", "Suporte", "Vendas"], 4), {
    cap: 4,
    slots: 2,
    idle: ["INBOX", "Suporte"],
    cronOnly: ["Vendas"],
  });
  assert.deepEqual(idlePlan(["INBOX", "Suporte"], 1).idle, [], "no room left for IDLE");
  assert.deepEqual(idlePlan(["INBOX", "INBOX"], 10).idle, ["INBOX"], "named twice, one lease");
  assert.deepEqual(idlePlan([], 10).idle, ["INBOX"]);
  const many = Array.from({ length: 20 }, (_, i) => `Pasta${i}`);
  const gmail = idlePlan(many, defaultConnectionCap("imap.gmail.com"));
  assert.equal(gmail.idle.length + RESERVED_CONNECTIONS, 10, "IDLE + reserved = the cap");
  assert.equal(gmail.cronOnly.length, 12);
});

Deno.test("a dead holder's mailbox is watched again within 30 s; a holder stops before others may take over", () => {
  assert.ok(LEASE_EXPIRY_MS + LEASE_HEARTBEAT_MS <= 30_000);
  assert.ok(LEASE_SELF_STOP_MS + LEASE_HEARTBEAT_MS < LEASE_EXPIRY_MS);
  const t = new Date("2026-03-10T12:00:00Z");
  const later = (ms: number) => new Date(t.getTime() + ms);
  assert.equal(leaseStillOurs(null, t), false);
  assert.equal(leaseStillOurs(t, later(LEASE_SELF_STOP_MS - 1)), true);
  assert.equal(leaseStillOurs(t, later(LEASE_SELF_STOP_MS)), false);
  assert.equal(leaseStillOurs(t, later(-1)), false, "a clock that went back is not trusted");
});

Deno.test("a cap as typed: blank is the default, else a whole number from 1 to 100", () => {
  assert.deepEqual(parseConnectionCap(""), { ok: true, value: null });
  assert.deepEqual(parseConnectionCap(undefined), { ok: true, value: null });
  assert.deepEqual(parseConnectionCap(" 12 "), { ok: true, value: 12 });
  assert.deepEqual(parseConnectionCap(7), { ok: true, value: 7 });
  for (const bad of ["0", "101", "1.5", "-3", "dez"]) {
    assert.deepEqual(parseConnectionCap(bad), { ok: false }, bad);
  }
});
