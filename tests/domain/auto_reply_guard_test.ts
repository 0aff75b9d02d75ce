import assert from "node:assert/strict";
import { buildEmail, type Draft } from "../support/email_draft.ts";
import type { Classification, ParsedEmail } from "../../src/domain/email.ts";
import {
  checkAutoReply,
  type GuardInput,
  type GuardVerdict,
  isValidAddress,
  resolveRecipient,
  SUPPRESSION_REASONS,
  type SuppressionReason,
  systemAddressReason,
} from "../../src/domain/auto_reply_guard.ts";
import { dedupKey, replyMessageId } from "../../src/domain/reply_composer.ts";

function email(draft: Draft = {}): ParsedEmail {
  return buildEmail(draft);
}

const DIRECT: Classification = { kind: "direct", original: null, confidence: 1, evidence: [] };

function forwarded(fromAddress: string | null, fromName = "Bruno"): Classification {
  return {
    kind: "forwarded",
    original: { fromAddress, fromName, subject: "Dúvida", date: null, dateIso: null },
    confidence: 0.9,
    evidence: ["Fwd: subject"],
  };
}

const CONNECTED = new Date("2026-01-01T00:00:00Z");
const RECEIVED = new Date("2026-03-01T12:00:00Z");

function guard(message: ParsedEmail, extra: Partial<GuardInput> = {}): GuardVerdict {
  return checkAutoReply({
    email: message,
    classification: DIRECT,
    target: "sender",
    accountAddresses: ["suporte@empresa.test", "contato@empresa.test"],
    ownAddresses: ["vendas@empresa.test"],
    messageIdDomain: "carteiro.empresa.test",
    connectedAt: CONNECTED,
    receivedAt: RECEIVED,
    ...extra,
  });
}

function assertSuppressed(v: GuardVerdict, reason: SuppressionReason, context: string) {
  assert.equal(v.allowed, false, `${context}: expected suppress(${reason}), got allowed`);
  if (!v.allowed) assert.equal(v.reason, reason, `${context}: ${v.detail}`);
}

function assertAllowed(v: GuardVerdict, context: string) {
  assert.equal(v.allowed, true, `${context}: ${v.allowed ? "" : `${v.reason}: ${v.detail}`}`);
}

Deno.test("a plain human message is allowed and the recipient is the From mailbox", () => {
  const v = guard(email());
  assert.deepEqual(v, {
    allowed: true,
    recipient: { name: "Ana Souza", address: "ana@cliente.test" },
  });
});

// ---- one test per reason, in guard order --------------------------------------------------

Deno.test("backfill: mail received before the account was connected is never answered", () => {
  const v = guard(email(), { receivedAt: new Date("2025-12-31T23:59:59Z") });
  assertSuppressed(v, "backfill", "older than connectedAt");
  assertSuppressed(guard(email(), { receivedAt: new Date(NaN) }), "backfill", "unknown time");
  assertAllowed(guard(email(), { receivedAt: CONNECTED }), "received at connect time");
  // INTERNALDATE has whole seconds: mail in the second of the connection is new, the second
  // before is history, whatever the connection's milliseconds.
  const midSecond = { connectedAt: new Date(CONNECTED.getTime() + 700) };
  assertAllowed(
    guard(email(), { ...midSecond, receivedAt: CONNECTED }),
    "received in the second the account was connected",
  );
  assertSuppressed(
    guard(email(), { ...midSecond, receivedAt: new Date(CONNECTED.getTime() - 1000) }),
    "backfill",
    "the second before the connection",
  );
});

Deno.test("malformed: a header block over the size cap suppresses", () => {
  const big = email({ headers: [["X-Junk", "x".repeat(300_000)]] });
  assertSuppressed(guard(big), "malformed", "300 KB header");
  assertAllowed(guard(big, { policy: { maxHeaderChars: 1_000_000 } }), "cap raised");
});

Deno.test("own_reply: our own reply coming back (Message-ID or loop header) is ignored", () => {
  const ours = replyMessageId(
    dedupKey({ accountId: 1, rawSha256: "a".repeat(64), ruleName: "ack" }),
    "carteiro.empresa.test",
  );
  assertSuppressed(guard(email({ messageId: ours })), "own_reply", "Message-ID is ours");
  assertSuppressed(
    guard(email({ headers: [["X-Carteiro-Loop", "Carteiro.Empresa.Test"]] })),
    "own_reply",
    "loop header (odd case)",
  );
  // Another install's marker is not ours; its replies carry Auto-Submitted anyway.
  assertAllowed(guard(email({ headers: [["X-Carteiro-Loop", "other.test"]] })), "foreign marker");
  assertAllowed(
    guard(email({ messageId: "<carteiro.nothex@carteiro.empresa.test>" })),
    "prefix without our hash",
  );
});

Deno.test("reply_to_own_reply: In-Reply-To or References carrying our reply id suppress", () => {
  const ours = replyMessageId("v1/1/x/ack", "carteiro.empresa.test");
  // A rogue responder that sets no Auto-Submitted but threads on our reply (A-10).
  const rogue = email({ subject: "Re: Re: Pedido 123", inReplyTo: ours });
  assertSuppressed(guard(rogue), "reply_to_own_reply", "In-Reply-To");
  const viaRefs = email({ references: ["<root@cliente.test>", ours.toUpperCase()] });
  assertSuppressed(guard(viaRefs), "reply_to_own_reply", "References, odd case");
  const viaHeader = email({ headers: [["References", `<root@cliente.test>\r\n ${ours}`]] });
  assertSuppressed(guard(viaHeader), "reply_to_own_reply", "folded References header");
});

Deno.test("auto_submitted: any value but no, in any case, with comments or parameters", () => {
  for (
    const value of [
      "auto-replied",
      "auto-generated",
      "auto-notified",
      "auto-replied (vacation)",
      "yes",
      "AUTO-REPLIED",
      "auto-generated; owner-email=x@y.test",
      "",
    ]
  ) {
    assertSuppressed(
      guard(email({ headers: [["Auto-Submitted", value]] })),
      "auto_submitted",
      value,
    );
  }
  // Two instances: any non-"no" one counts (Pigeonhole loops over every instance).
  const twice = email({
    headers: [["Auto-Submitted", "no"], ["auto-submitted", "auto-generated"]],
  });
  assertSuppressed(guard(twice), "auto_submitted", "repeated field");
  for (const value of ["no", "No", "no (sent by a human)", "no; x=y", " NO ", "no\r\n (folded)"]) {
    assertAllowed(guard(email({ headers: [["Auto-Submitted", value]] })), `control ${value}`);
  }
});

Deno.test("auto_response_suppress: All, OOF and AutoReply, also in folded comma lists", () => {
  for (const value of ["All", "OOF", "AutoReply", "DR, OOF,\r\n\tRN", "dr,autoreply", "all"]) {
    assertSuppressed(
      guard(email({ headers: [["X-Auto-Response-Suppress", value]] })),
      "auto_response_suppress",
      JSON.stringify(value),
    );
  }
  for (const value of ["None", "DR, RN, NRN", "NDR"]) {
    assertAllowed(guard(email({ headers: [["X-Auto-Response-Suppress", value]] })), value);
  }
});

Deno.test("list: any List-* header, in any case, folded or not, and X-Mailing-List", () => {
  for (
    const name of [
      "List-Id",
      "List-Help",
      "List-Subscribe",
      "List-Unsubscribe",
      "List-Post",
      "List-Owner",
      "List-Archive",
      "List-ID",
      "LIST-UNSUBSCRIBE",
      "list-unsubscribe-post",
      "X-Mailing-List",
      "Mailing-List",
    ]
  ) {
    const v = guard(
      email({ headers: [[name, "<mailto:leave@lists.test>,\r\n <https://x.test/u>"]] }),
    );
    assertSuppressed(v, "list", name);
  }
  // Pigeonhole "No reply to mailing list".
  const pigeonhole = email({
    headers: [
      ["List-ID", "<dovecot.lists.example.com>"],
      ["Return-Path", "<dovecot-bounces+timo=example.com@lists.example.com>"],
    ],
  });
  assertSuppressed(guard(pigeonhole), "list", "Pigeonhole fixture");
});

Deno.test("precedence: bulk, list, junk and auto_reply; X-Precedence too", () => {
  for (
    const [name, value] of [
      ["Precedence", "bulk"],
      ["Precedence", "LIST"],
      ["Precedence", "junk"],
      ["Precedence", "auto_reply"],
      ["Precedence", "bulk (newsletter)"],
      ["X-Precedence", "bulk"],
    ]
  ) {
    assertSuppressed(guard(email({ headers: [[name, value]] })), "precedence", `${name}: ${value}`);
  }
  for (const value of ["normal", "first-class"]) {
    assertAllowed(guard(email({ headers: [["Precedence", value]] })), value);
  }
});

Deno.test("null_sender: Return-Path <> (with spaces or comments) is never answered", () => {
  for (const value of ["<>", "< >", "<> (bounce)", "  <>  "]) {
    assertSuppressed(guard(email({ headers: [["Return-Path", value]] })), "null_sender", value);
  }
  // The Haraka bounce set from FreeScout #634.
  const haraka = email({
    from: [{ name: "", address: "mailer-daemon@mx.cliente.test" }],
    headers: [["Return-Path", "<>"], ["From", "MAILER-DAEMON@mx.cliente.test"], ["To", "<>"]],
  });
  assertSuppressed(guard(haraka), "null_sender", "Haraka bounce");
  assertAllowed(guard(email({ headers: [["Return-Path", "<ana@cliente.test>"]] })), "normal");
});

Deno.test("bounce: multipart/report and X-Failed-Recipients suppress despite a Return-Path", () => {
  const dsn = email({
    headers: [
      ["Return-Path", "<relay@mx.cliente.test>"],
      ["Content-Type", 'Multipart/Report; report-type=delivery-status;\r\n boundary="b1"'],
    ],
  });
  assertSuppressed(guard(dsn), "bounce", "delivery-status report");
  const failed = email({ headers: [["X-Failed-Recipients", "ghost@nonexistent.test"]] });
  assertSuppressed(guard(failed), "bounce", "X-Failed-Recipients");
  const mixed = email({ headers: [["Content-Type", "multipart/mixed; boundary=x"]] });
  assertAllowed(guard(mixed), "multipart/mixed");
});

Deno.test("too_many_hops: more than 50 Received fields is a loop", () => {
  const hops = (n: number) =>
    email({
      headers: Array.from({ length: n }, (_, i) => ["Received", `from h${i} by h${i + 1}`]),
    });
  assertSuppressed(guard(hops(51)), "too_many_hops", "51 hops");
  assertAllowed(guard(hops(50)), "50 hops");
});

Deno.test("invalid_sender: malformed, ambiguous or missing recipients never get a reply", () => {
  for (
    const address of [
      "alice@example.org)<bob@example.org>",
      '"xclow3n@gmail.com x"@internal.domain',
      "user@good-corp.test(x)evil.test",
      '"foo@psres.net> ORCPT=admin@admin.com"@test.com',
      "undisclosed-recipients:;",
      "nicëøôçêè—öxample.org",
      "josé@exemplo.test",
      "a@b.test,c@d.test",
      "ana@cliente.test\r\nBcc: victim@x.test",
      "ana@localhost",
      "",
    ]
  ) {
    const v = guard(email({ from: [{ name: "", address }] }));
    assertSuppressed(v, "invalid_sender", JSON.stringify(address));
  }
  const twoFrom = email({
    from: [{ name: "", address: "a@cliente.test" }, { name: "", address: "b@cliente.test" }],
  });
  assertSuppressed(guard(twoFrom), "invalid_sender", "two From mailboxes");
  assertSuppressed(guard(email({ from: [] })), "invalid_sender", "no From");
  const twoReplyTo = email({
    replyTo: [{ name: "", address: "a@cliente.test" }, { name: "", address: "b@cliente.test" }],
  });
  assertSuppressed(guard(twoReplyTo), "invalid_sender", "two Reply-To mailboxes");
  // original_sender on a direct message, or a forward whose author was not found.
  assertSuppressed(guard(email(), { target: "original_sender" }), "invalid_sender", "direct");
  assertSuppressed(
    guard(email(), { target: "original_sender", classification: forwarded(null) }),
    "invalid_sender",
    "forward without author",
  );
});

Deno.test("own_address: never answer ourselves, aliases, other accounts or our envelope", () => {
  const cases: Array<[string, Draft]> = [
    ["account address", { from: [{ name: "", address: "suporte@empresa.test" }] }],
    ["alias, odd case", { from: [{ name: "", address: "Contato@Empresa.TEST" }] }],
    ["other account (ping-pong)", { from: [{ name: "", address: "vendas@empresa.test" }] }],
    ["subaddress", { from: [{ name: "", address: "suporte+x@empresa.test" }] }],
    ["Reply-To ours", { replyTo: [{ name: "", address: "suporte@empresa.test" }] }],
    ["Return-Path ours", { headers: [["Return-Path", "<suporte@empresa.test>"]] }],
  ];
  for (const [what, draft] of cases) {
    assertSuppressed(guard(email(draft)), "own_address", what);
  }
  // Original sender of a forward that is ourselves (a forward of our own mail).
  const v = guard(email(), {
    target: "original_sender",
    classification: forwarded("vendas@empresa.test"),
  });
  assertSuppressed(v, "own_address", "original sender is another account");
  // A web form sending as us with the visitor in Reply-To is answered, to the visitor.
  const form = guard(email({
    from: [{ name: "Site", address: "suporte@empresa.test" }],
    replyTo: [{ name: "Visitante", address: "visitante@cliente.test" }],
  }));
  assert.deepEqual(form, {
    allowed: true,
    recipient: { name: "Visitante", address: "visitante@cliente.test" },
  });
});

Deno.test("system_address: robot and no-reply local parts, in any case", () => {
  for (
    const address of [
      "MAILER-DAEMON@mx.cliente.test",
      "postmaster@cliente.test",
      "LISTSERV@lists.test",
      "majordomo@lists.test",
      "dovecot-request@lists.example.com",
      "owner-dovecot@lists.example.com",
      "noreply@cliente.test",
      "No-Reply@cliente.test",
      "no_reply@cliente.test",
      "DoNotReply@cliente.test",
      "do-not-reply@cliente.test",
      "noreply-dmarc-support@google.com",
      "info.noreply@cliente.test",
      "noreply+abc@cliente.test",
    ]
  ) {
    assertSuppressed(
      guard(email({ from: [{ name: "", address }] })),
      "system_address",
      address,
    );
  }
  for (const address of ["juno.reply@cliente.test", "replyall@cliente.test", "noah@cliente.test"]) {
    assertAllowed(guard(email({ from: [{ name: "", address }] })), address);
  }
  // RFC 5230 §4.6 says postmaster is often a person: the policy can allow it.
  const postmaster = email({ from: [{ name: "", address: "postmaster@cliente.test" }] });
  assertAllowed(guard(postmaster, { policy: { blockPostmaster: false } }), "postmaster allowed");
  // Pigeonhole "No reply to system address": the envelope sender is a list robot.
  const envelope = email({ headers: [["Return-Path", "<dovecot-request@lists.example.com>"]] });
  assertSuppressed(guard(envelope), "system_address", "Return-Path robot");
  // A forwarded message whose original author is a no-reply address (A-15.2).
  const fwd = guard(email(), {
    target: "original_sender",
    classification: forwarded("noreply@banco.test"),
  });
  assertSuppressed(fwd, "system_address", "original sender noreply");
  // A web form sending from noreply@ with the visitor in Reply-To is answered.
  const form = email({
    from: [{ name: "", address: "noreply@site.test" }],
    replyTo: [{ name: "", address: "visitante@cliente.test" }],
  });
  assertAllowed(guard(form), "web form");
});

Deno.test("not_addressed: with requireAddressed, only mail naming the account is answered", () => {
  const policy = { requireAddressed: true };
  const implicit = email({ to: [{ name: "", address: "all@empresa.test" }] });
  assertSuppressed(guard(implicit, { policy }), "not_addressed", "delivered through a list alias");
  assertAllowed(guard(implicit), "off by default");
  const alias = email({ to: [{ name: "", address: "CONTATO@empresa.test" }] });
  assertAllowed(guard(alias, { policy }), "alias in To, odd case");
  const cc = email({ to: [], cc: [{ name: "", address: "suporte@empresa.test" }] });
  assertAllowed(guard(cc, { policy }), "Cc");
  const resent = email({
    to: [{ name: "", address: "all@empresa.test" }],
    headers: [["Resent-To", "Suporte <suporte@empresa.test>"]],
  });
  assertAllowed(guard(resent, { policy }), "Resent-To");
});

Deno.test("every suppression reason has a test above and a stable code", () => {
  // The codes are stored in the outbox and audit rows: this list must only grow.
  assert.deepEqual([...SUPPRESSION_REASONS], [
    "backfill",
    "malformed",
    "own_reply",
    "reply_to_own_reply",
    "auto_submitted",
    "auto_response_suppress",
    "list",
    "precedence",
    "null_sender",
    "bounce",
    "too_many_hops",
    "invalid_sender",
    "own_address",
    "system_address",
    "not_addressed",
    "auth_failed",
    "spam",
    "never_answer",
    "untrusted_forwarder",
  ]);
});

// ---- header variants, order, recipients -----------------------------------------------------

Deno.test("folded, repeated and odd-case headers decide like the plain form (A-16)", () => {
  const variants: Array<[SuppressionReason, Array<[string, string]>]> = [
    ["auto_submitted", [["AUTO-SUBMITTED", "auto-replied\r\n\t(vacation)"]]],
    ["auto_submitted", [["auto-submitted", "no"], ["Auto-Submitted", "no"], [
      "AUTO-submitted",
      "Auto-Generated",
    ]]],
    ["auto_response_suppress", [["x-auto-response-suppress", "DR,\r\n OOF"]]],
    ["list", [["LIST-id", "Lista\r\n <lista.empresa.test>"]]],
    ["precedence", [["PRECEDENCE", "normal"], ["precedence", "BULK"]]],
    ["null_sender", [["RETURN-PATH", "<ana@cliente.test>"], ["return-path", "<>"]]],
  ];
  for (const [reason, headers] of variants) {
    assertSuppressed(guard(email({ headers })), reason, JSON.stringify(headers));
  }
  // The same signal after a large header block still decides.
  const late = email({
    headers: [
      ...Array.from(
        { length: 200 },
        (_, i): [string, string] => [`X-Filler-${i}`, "y".repeat(300)],
      ),
      ["Auto-Submitted", "auto-replied"],
    ],
  });
  assertSuppressed(guard(late), "auto_submitted", "after 60 KB of headers");
});

Deno.test("checks run in a fixed order: the first applicable reason is reported", () => {
  const both = email({ headers: [["List-Id", "<l.test>"], ["Auto-Submitted", "auto-generated"]] });
  assertSuppressed(guard(both), "auto_submitted", "Auto-Submitted before List-Id");
  const old = guard(both, { receivedAt: new Date("2020-01-01T00:00:00Z") });
  assertSuppressed(old, "backfill", "backfill first");
});

Deno.test("the recipient is Reply-To, else From; for forwards the original author", () => {
  const withReplyTo = email({
    replyTo: [{ name: "Ana (trabalho)", address: "Ana.Souza@Cliente.TEST" }],
  });
  assert.deepEqual(resolveRecipient(withReplyTo, DIRECT, "sender"), {
    ok: true,
    recipient: { name: "Ana (trabalho)", address: "ana.souza@cliente.test" },
  });
  assert.deepEqual(resolveRecipient(email(), forwarded("Bruno@Cliente.test"), "original_sender"), {
    ok: true,
    recipient: { name: "Bruno", address: "bruno@cliente.test" },
  });
  const v = guard(email(), {
    target: "original_sender",
    classification: forwarded("bruno@x.test"),
    trustedForwarders: ["cliente.test"],
  });
  assert.deepEqual(v, { allowed: true, recipient: { name: "Bruno", address: "bruno@x.test" } });
});

Deno.test("untrusted_forwarder: only a trusted forwarder's forward is answered to its author", () => {
  const forward = { target: "original_sender" as const, classification: forwarded("bruno@x.test") };
  const outsider = guard(email(), forward);
  assert.equal(outsider.allowed ? "allowed" : outsider.reason, "untrusted_forwarder");
  assert.match(outsider.allowed ? "" : outsider.detail, /"ana@cliente.test".*\(empresa.test/);
  const colleague = email({ from: [{ name: "Caio", address: "caio@empresa.test" }] });
  assert.equal(guard(colleague, forward).allowed, true, "the account's own domain by default");
  assert.equal(guard(email(), { ...forward, trustedForwarders: ["*@cliente.test"] }).allowed, true);
  assert.equal(guard(email(), { ...forward, trustedForwarders: [] }).allowed, false, "nobody");
  assert.equal(
    guard(email(), { classification: forwarded("bruno@x.test") }).allowed,
    true,
    "sender",
  );
});

Deno.test("never_answer: the recipient or the sender on the list is not answered", () => {
  const list = ["fornecedor.test", "*@parceiro.test", "diretor@cliente.test"];
  const from = (address: string) => email({ from: [{ name: "", address }] });
  const reason = (v: GuardVerdict) => v.allowed ? "allowed" : v.reason;
  assert.equal(reason(guard(from("ze@fornecedor.test"), { neverAnswer: list })), "never_answer");
  assert.equal(reason(guard(from("x@parceiro.test"), { neverAnswer: list })), "never_answer");
  assert.equal(reason(guard(from("Diretor@Cliente.test"), { neverAnswer: list })), "never_answer");
  assert.equal(reason(guard(from("ana@cliente.test"), { neverAnswer: list })), "allowed");
  const viaReplyTo = email({ replyTo: [{ name: "", address: "ze@fornecedor.test" }] });
  const v = guard(viaReplyTo, { neverAnswer: list });
  assert.equal(
    v.allowed ? "" : v.detail,
    '"ze@fornecedor.test" is on the never-answer list (fornecedor.test)',
  );
});

Deno.test("isValidAddress accepts plain mailboxes only", () => {
  for (const ok of ["a@b.test", "first.last+tag@sub.example.com", "o'brien@x.ie", "x_y-z@a-b.co"]) {
    assert.equal(isValidAddress(ok), true, ok);
  }
  for (
    const bad of [
      "a@b",
      "@b.test",
      "a@",
      "a..b@x.test",
      ".a@x.test",
      "a@-x.test",
      "a@x.123",
      "a b@x.test",
      `${"l".repeat(65)}@x.test`,
      "a@[127.0.0.1]",
    ]
  ) {
    assert.equal(isValidAddress(bad), false, bad);
  }
});

Deno.test("suppression details quote hostile values without raw line breaks (audit safety)", () => {
  const v = guard(email({ headers: [["Auto-Submitted", "yes\n2026-01-01 INFO login ok admin"]] }));
  assert.equal(v.allowed, false);
  if (!v.allowed) {
    assert.equal(v.reason, "auto_submitted");
    assert.ok(!/[\r\n]/.test(v.detail), v.detail);
    assert.ok(v.detail.includes("\\n2026-01-01"), v.detail);
  }
  assert.equal(systemAddressReason("user@x.test"), null);
});
