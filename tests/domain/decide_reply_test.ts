import assert from "node:assert/strict";
import { buildEmail, type Draft } from "../support/email_draft.ts";
import type { Classification, ParsedEmail } from "../../src/domain/email.ts";
import {
  type AccountContext,
  decideReply,
  type DecideReplyInput,
  type Decision,
  type ReplyFacts,
  settleReply,
} from "../../src/domain/decide_reply.ts";
import {
  countRequests,
  DEFAULT_RATE_LIMIT_POLICY as POLICY,
  type RateCounts,
} from "../../src/domain/rate_limit.ts";
import { parseRules, type Rule } from "../../src/domain/rules.ts";
import { dedupKey, replyMessageId } from "../../src/domain/reply_composer.ts";
import { LimitSimulation } from "../../src/domain/limit_simulation.ts";

function email(draft: Draft = {}): ParsedEmail {
  return buildEmail(draft, {
    to: [{ name: "Suporte", address: "suporte@empresa.test" }],
    references: ["<root@cliente.test>"],
    headers: { "return-path": ["<ana@cliente.test>"] },
    text: "Olá, meu pedido não chegou.",
  });
}

const DIRECT: Classification = { kind: "direct", original: null, confidence: 1, evidence: [] };

function forwarded(fromAddress: string | null, fromName = "Bruno Lima"): Classification {
  return {
    kind: "forwarded",
    original: {
      fromAddress,
      fromName,
      subject: "Cotação de frete",
      date: "3 de mar. de 2026",
      dateIso: null,
    },
    confidence: 0.9,
    evidence: ["Fwd: subject", "forward header block"],
  };
}

const ACCOUNT: AccountContext = {
  id: 7,
  name: "Suporte",
  addresses: ["suporte@empresa.test", "contato@empresa.test"],
  displayName: "Suporte Empresa",
  connectedAt: new Date("2026-01-01T00:00:00Z"),
  messageIdDomain: "carteiro.empresa.test",
};

const SHA = "ab".repeat(32);

// The acceptance rules file, as users write it.
const RULES: Rule[] = (() => {
  const parsed = parseRules([
    {
      name: "ack-direct",
      enabled: true,
      when: { kind: "direct" },
      reply: {
        to: "sender",
        subject: "Re: {{subject}}",
        text: "Olá {{from_name}}, recebemos sua mensagem.",
        html: "<p>Olá {{from_name}}, recebemos sua mensagem.</p>",
      },
    },
    {
      name: "ack-forwarded",
      enabled: true,
      when: { kind: "forwarded", from: "*@empresa.test" },
      reply: {
        to: "original_sender",
        subject: "Re: {{original_subject}}",
        text: "Olá {{original_from_name}}, {{from_name}} nos encaminhou sua mensagem.",
        html: "<p>Olá {{original_from_name}}, recebemos sua mensagem.</p>",
      },
    },
  ]);
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.rules;
})();

function decide(overrides: Partial<DecideReplyInput> = {}): Decision {
  return decideReply({
    email: email(),
    classification: DIRECT,
    account: ACCOUNT,
    ownAddresses: ["suporte@empresa.test", "contato@empresa.test", "vendas@empresa.test"],
    receivedAt: new Date("2026-03-01T12:00:00Z"),
    rawSha256: SHA,
    rules: RULES,
    ...overrides,
  });
}

function replyOf(d: Decision) {
  assert.equal(d.outcome, "reply", JSON.stringify(d));
  if (d.outcome !== "reply") throw new Error("unreachable");
  return d;
}

Deno.test("a direct message gets one reply to its sender, with every reply header", () => {
  const d = replyOf(decide());
  const key = dedupKey({ accountId: 7, rawSha256: SHA, ruleName: "ack-direct" });
  assert.equal(d.rule.name, "ack-direct");
  assert.equal(d.dedupKey, key);
  assert.deepEqual(d.recipient, { name: "Ana Souza", address: "ana@cliente.test" });
  assert.deepEqual(d.reply, {
    from: { name: "Suporte Empresa", address: "suporte@empresa.test" },
    to: { name: "Ana Souza", address: "ana@cliente.test" },
    cc: [],
    bcc: [],
    replyTo: null,
    attachments: [],
    subject: "Re: Pedido 123",
    text: "Olá Ana Souza, recebemos sua mensagem.",
    html: "<p>Olá Ana Souza, recebemos sua mensagem.</p>",
    messageId: replyMessageId(key, "carteiro.empresa.test"),
    inReplyTo: "<m1@cliente.test>",
    references: ["<root@cliente.test>", "<m1@cliente.test>"],
    headers: {
      "Auto-Submitted": "auto-replied",
      "Precedence": "bulk",
      "X-Auto-Response-Suppress": "All",
      "X-Carteiro-Loop": "carteiro.empresa.test",
    },
  });
  assert.deepEqual(d.trail, [{ rule: "ack-direct", hit: true, why: "kind is direct" }]);
});

Deno.test("a forward from a colleague is answered to the original sender", () => {
  const d = replyOf(decide({
    email: email({
      from: [{ name: "Carla", address: "carla@empresa.test" }],
      subject: "Fwd: Cotação de frete",
      to: [{ name: "", address: "contato@empresa.test" }],
      headers: [["Return-Path", "<carla@empresa.test>"]],
    }),
    classification: forwarded("Bruno@Cliente.test"),
  }));
  assert.equal(d.rule.name, "ack-forwarded");
  assert.deepEqual(d.reply.to, { name: "Bruno Lima", address: "bruno@cliente.test" });
  assert.equal(d.reply.from.address, "contato@empresa.test", "From = the address it was sent to");
  assert.equal(d.reply.subject, "Re: Cotação de frete");
  assert.equal(d.reply.text, "Olá Bruno Lima, Carla nos encaminhou sua mensagem.");
  assert.deepEqual(d.trail.map((t) => [t.rule, t.hit]), [["ack-direct", false], [
    "ack-forwarded",
    true,
  ]]);
});

Deno.test("the same message and rule always give the same dedup key and Message-ID (D-05)", () => {
  const a = replyOf(decide());
  const b = replyOf(decide());
  assert.equal(a.dedupKey, b.dedupKey);
  assert.equal(a.reply.messageId, b.reply.messageId);
  // Same Message-ID, different bytes: a new message, a new key (FreeScout #5591).
  const c = replyOf(decide({ rawSha256: "cd".repeat(32) }));
  assert.notEqual(c.dedupKey, a.dedupKey);
  assert.notEqual(c.reply.messageId, a.reply.messageId);
  // No Message-ID at all still has a key.
  const d = replyOf(decide({ email: email({ messageId: null }) }));
  assert.equal(d.dedupKey, a.dedupKey);
  assert.equal(d.reply.inReplyTo, null);
});

Deno.test("no rule matches: no_rule with the trail", () => {
  const d = decide({ classification: forwarded("bruno@cliente.test") });
  assert.equal(d.outcome, "no_rule");
  assert.deepEqual(d.trail.map((t) => t.why), [
    "kind is forwarded, the rule wants direct",
    'from "ana@cliente.test" matches none of "*@empresa.test"',
  ]);
});

Deno.test("an ignore rule wins before a reply rule and sends nothing", () => {
  const parsed = parseRules([
    { name: "skip-boletos", priority: 1, when: { subject_contains: "boleto" }, ignore: true },
  ]);
  assert.ok(parsed.ok);
  const d = decide({ rules: [...RULES, ...parsed.rules], email: email({ subject: "Seu BOLETO" }) });
  assert.equal(d.outcome, "ignored");
  assert.equal(d.outcome === "ignored" && d.rule.name, "skip-boletos");
});

Deno.test("the guard suppresses with the rule, a reason and a detail", () => {
  const d = decide({ email: email({ headers: [["Auto-Submitted", "auto-replied"]] }) });
  assert.equal(d.outcome, "suppressed");
  if (d.outcome === "suppressed") {
    assert.equal(d.rule.name, "ack-direct");
    assert.equal(d.reason, "auto_submitted");
    assert.equal(d.detail, 'Auto-Submitted: "auto-replied"');
    assert.equal(d.trail.length, 1);
  }
  const old = decide({ receivedAt: new Date("2025-06-01T00:00:00Z") });
  assert.equal(old.outcome === "suppressed" && old.reason, "backfill");
});

Deno.test("our own reply coming back, or a rogue answer to it, is ignored (A-09, A-10)", () => {
  const first = replyOf(decide());
  // The reply lands in a monitored mailbox (Sent folder, auto-forward back to us).
  const echo = email({
    messageId: first.reply.messageId,
    from: [first.reply.from],
    subject: first.reply.subject,
    inReplyTo: first.reply.inReplyTo,
    references: first.reply.references,
    headers: Object.entries(first.reply.headers),
  });
  const back = decide({ email: echo, rawSha256: "ef".repeat(32) });
  assert.equal(back.outcome === "suppressed" && back.reason, "own_reply");
  // A responder that sets no Auto-Submitted/Precedence but threads on our reply.
  const rogue = email({
    messageId: "<rogue-1@responder.test>",
    from: [{ name: "", address: "bot@responder.test" }],
    subject: "Re: Re: Pedido 123",
    inReplyTo: first.reply.messageId,
    references: [...first.reply.references, first.reply.messageId],
  });
  const answer = decide({ email: rogue, rawSha256: "12".repeat(32) });
  assert.equal(answer.outcome === "suppressed" && answer.reason, "reply_to_own_reply");
});

Deno.test("forwards: the original sender is checked too, and outsiders' fake forwards miss", () => {
  const colleague = (c: Classification) =>
    decide({
      email: email({ from: [{ name: "Carla", address: "carla@empresa.test" }] }),
      classification: c,
    });
  const ours = colleague(forwarded("vendas@empresa.test"));
  assert.equal(ours.outcome === "suppressed" && ours.reason, "own_address");
  const robot = colleague(forwarded("noreply@banco.test"));
  assert.equal(robot.outcome === "suppressed" && robot.reason, "system_address");
  const unknown = colleague(forwarded(null));
  assert.equal(unknown.outcome === "suppressed" && unknown.reason, "invalid_sender");
  // an outsider's "forward" naming a victim matches no rule that trusts only colleagues.
  const fake = decide({
    email: email({ from: [{ name: "", address: "spammer@fora.test" }] }),
    classification: forwarded("vitima@banco.test"),
  });
  assert.equal(fake.outcome, "no_rule");
});

Deno.test("a hostile subject cannot add headers or recipients to the reply (J-01)", () => {
  const d = replyOf(decide({
    email: email({
      subject: "Oi\r\nBcc: victim@x.test",
      from: [{ name: 'Ana"\r\nCc: v2@x.test', address: "ana@cliente.test" }],
    }),
  }));
  assert.equal(d.reply.subject, "Re: Oi Bcc: victim@x.test");
  assert.equal(d.reply.to.address, "ana@cliente.test");
  assert.ok(!/[\r\n]/.test(d.reply.to.name + d.reply.subject + d.reply.text));
  assert.equal(d.reply.html, "<p>Olá Ana&quot; Cc: v2@x.test, recebemos sua mensagem.</p>");
});

Deno.test("a rule whose templates do not validate is suppressed as invalid_rule, not sent", () => {
  const broken: Rule = {
    name: "hand-made",
    enabled: true,
    priority: 0,
    when: {},
    action: { type: "reply", to: "sender", subject: "{{secret}}", text: "x", html: null },
  };
  const d = decide({ rules: [broken] });
  assert.equal(d.outcome, "suppressed");
  if (d.outcome === "suppressed") {
    assert.equal(d.reason, "invalid_rule");
    assert.match(d.detail, /unknown variable \{\{secret\}\}/);
  }
});

// ---------------------------------------------------------------------------------------------
// The final word on a reply, from the facts the job read.

const NOW = new Date("2026-03-01T12:00:00Z");

/** Facts under which the reply goes: no earlier reply, every count zero, no breaker tripped. */
function facts(p: { counts?: RateCounts } & Partial<Omit<ReplyFacts, "counts">> = {}): ReplyFacts {
  const zero = Object.fromEntries(countRequests(POLICY).map((r) => [r.key, 0]));
  return {
    alreadyAnswered: false,
    breakers: { recipientTrippedAt: null, accountTrippedAt: null },
    ...p,
    counts: { ...zero, ...p.counts },
  };
}

Deno.test("settleReply: with nothing against it the reply goes, and its rate window is named", () => {
  const d = replyOf(decide());
  const s = settleReply(d, facts(), POLICY, NOW);
  assert.equal(s.outcome, "reply", JSON.stringify(s));
  if (s.outcome !== "reply") return;
  assert.equal(s.decision, d);
  assert.equal(s.trip, null);
  assert.deepEqual(s.reservation, {
    ruleName: "ack-direct",
    recipient: "ana@cliente.test",
    windowSeconds: POLICY.windowSeconds,
  });
});

Deno.test("settleReply: a message already answered is not answered again, whatever the counts", () => {
  const d = replyOf(decide());
  const s = settleReply(
    d,
    facts({ alreadyAnswered: true, counts: { "account:600": 99 } }),
    POLICY,
    NOW,
  );
  assert.deepEqual(s, {
    outcome: "suppressed",
    rule: d.rule,
    reason: "already_answered",
    detail: "this message already has a reply in the outbox",
    trail: d.trail,
    trip: null,
  });
});

Deno.test("settleReply: a copy of an answered message since purged or erased is not answered", () => {
  const d = replyOf(decide());
  const s = settleReply(d, facts({ answeredBeforeRemoval: true }), POLICY, NOW);
  assert.equal(s.outcome, "suppressed");
  if (s.outcome !== "suppressed") return;
  assert.equal(s.reason, "already_answered");
  assert.match(s.detail, /answered before it was removed \(retention or erasure\)/);
  assert.equal(s.trip, null);
});

Deno.test("settleReply: a recipient that bounced permanently is not answered within the window", () => {
  const d = replyOf(decide());
  const bouncedAt = new Date(NOW.getTime() - 3 * 86_400_000);
  // Before the rate limit and the breakers: a bounce is a fact about the address, and this
  // suppression trips nothing.
  const s = settleReply(
    d,
    facts({ recipientBouncedAt: bouncedAt, counts: { "recipient:3600": 50 } }),
    POLICY,
    NOW,
  );
  assert.equal(s.outcome, "suppressed");
  if (s.outcome !== "suppressed") return;
  assert.equal(s.reason, "recipient_bounced");
  assert.equal(
    s.detail,
    "a reply to ana@cliente.test bounced permanently at 2026-02-26T12:00:00.000Z; " +
      "not answered again until 2026-03-05T12:00:00.000Z",
  );
  assert.equal(s.trip, null);
  // Once the window has passed, the address is answered again.
  const later = new Date(bouncedAt.getTime() + POLICY.windowSeconds * 1000);
  assert.equal(
    settleReply(d, facts({ recipientBouncedAt: bouncedAt }), POLICY, later).outcome,
    "reply",
  );
  // A message already answered says so first.
  const both = settleReply(
    d,
    facts({ alreadyAnswered: true, recipientBouncedAt: bouncedAt }),
    POLICY,
    NOW,
  );
  assert.equal(both.outcome === "suppressed" && both.reason, "already_answered");
});

Deno.test("settleReply: a reply by this rule to this recipient in the window is rate-limited", () => {
  const d = replyOf(decide());
  const s = settleReply(d, facts({ counts: { "rule_recipient:604800": 1 } }), POLICY, NOW);
  assert.equal(s.outcome, "suppressed");
  if (s.outcome !== "suppressed") return;
  assert.equal(s.reason, "rate_limited");
  assert.equal(s.detail, "1 reply already sent to this recipient by this rule in the last 7 days");
  assert.equal(s.trip, null);
  assert.deepEqual(s.trail, d.trail);
});

Deno.test("settleReply: an open breaker suppresses as a suspected loop, without a new trip", () => {
  const d = replyOf(decide());
  const tripped = new Date("2026-03-01T11:30:00Z"); // within the hour of cool-down
  const s = settleReply(
    d,
    facts({ breakers: { recipientTrippedAt: tripped, accountTrippedAt: null } }),
    POLICY,
    NOW,
  );
  assert.equal(s.outcome, "suppressed");
  if (s.outcome !== "suppressed") return;
  assert.equal(s.reason, "loop_suspected");
  assert.match(s.detail, /the recipient breaker tripped at 2026-03-01T11:30:00\.000Z/);
  assert.equal(s.trip, null);
});

Deno.test("settleReply: a count at a breaker's limit trips it and suppresses this reply", () => {
  const d = replyOf(decide());
  const byRecipient = settleReply(d, facts({ counts: { "recipient:3600": 5 } }), POLICY, NOW);
  assert.equal(byRecipient.outcome, "suppressed");
  assert.equal(byRecipient.outcome === "suppressed" && byRecipient.reason, "loop_suspected");
  assert.deepEqual(byRecipient.trip, {
    scope: "recipient",
    recipient: "ana@cliente.test",
    detail: "5 replies to this recipient in the last 1 h (limit 5)",
    openUntil: new Date(NOW.getTime() + 3_600_000),
  });
  const byAccount = settleReply(d, facts({ counts: { "account:600": 120 } }), POLICY, NOW);
  assert.deepEqual(byAccount.trip, {
    scope: "account",
    recipient: null,
    detail: "120 replies from this account in the last 10 min (limit 120)",
    openUntil: new Date(NOW.getTime() + 3_600_000),
  });
});

Deno.test("settleReply: a lost reservation suppresses as rate-limited", () => {
  const d = replyOf(decide());
  const s = settleReply(d, facts({ reservationLost: true }), POLICY, NOW);
  assert.deepEqual(s, {
    outcome: "suppressed",
    rule: d.rule,
    reason: "rate_limited",
    detail: "a reply to this recipient by this rule is already reserved in the window",
    trail: d.trail,
    trip: null,
  });
});

Deno.test("settleReply: a count the store did not read throws rather than sends", () => {
  const d = replyOf(decide());
  const missing = facts();
  const { ["account:600"]: _dropped, ...counts } = missing.counts;
  assert.throws(() => settleReply(d, { ...missing, counts }, POLICY, NOW), RangeError);
});

Deno.test("a dry-run's limits: the rate window counts the dry-run's own replies, in time order", () => {
  const d = replyOf(decide());
  const sim = new LimitSimulation();
  const at = (h: number) => new Date(NOW.getTime() + h * 3_600_000);
  assert.equal(sim.settle(d, 7, at(0), POLICY).outcome, "reply");
  const again = sim.settle(d, 7, at(1), POLICY);
  assert.equal(again.outcome, "suppressed");
  assert.equal(again.outcome === "suppressed" && again.reason, "rate_limited");
  // Another account's reply to the same person is counted apart.
  assert.equal(sim.settle(d, 8, at(1), POLICY).outcome, "reply");
  // Past the window, answered again.
  const later = at(POLICY.windowSeconds / 3600 + 1);
  assert.equal(sim.settle(d, 7, later, POLICY).outcome, "reply");
});

Deno.test("a dry-run's limits: the account breaker trips, suppresses, and closes after its cool-down", () => {
  const d = replyOf(decide());
  const policy = {
    ...POLICY,
    breakers: [{ scope: "account" as const, max: 3, withinSeconds: 600 }],
    coolDownSeconds: 3600,
  };
  const to = (i: number) => ({
    ...d,
    recipient: { ...d.recipient, address: `p${i}@cliente.test` },
  });
  const sim = new LimitSimulation();
  const at = (min: number) => new Date(NOW.getTime() + min * 60_000);
  const outcomes = [0, 1, 2, 3, 4].map((i) => {
    const s = sim.settle(to(i), 7, at(i), policy);
    return s.outcome === "suppressed" ? `${s.reason}${s.trip ? " (trips)" : ""}` : s.outcome;
  });
  assert.deepEqual(outcomes, [
    "reply",
    "reply",
    "reply",
    "loop_suspected (trips)",
    "loop_suspected",
  ]);
  // An hour after the trip (at minute 3) the breaker is closed and the count has emptied.
  assert.equal(sim.settle(to(5), 7, at(64), policy).outcome, "reply");
});
