/**
 * Every page and htmx fragment of the admin, in Portuguese, shows only the catalog's words
 * (routes/i18n.ts) and the data: a word in a text node or in a title, placeholder, aria-label or
 * button value that is neither a word of a pt-BR catalog text nor a word of the fixtures' data
 * fails the test, which names the page and the text. The fixtures exercise every suppression
 * reason (with the domain's own detail), rule trails, classifier evidence, every audit event and
 * the validation problems of the forms. The pages are every route of the app (the same list as
 * ROUTES in tests/security/routes_property_test.ts, which checks the two agree), with `:id`
 * filled from the fixtures; POST routes are sent an empty form and a form of wrong values.
 */
import assert from "node:assert/strict";
import { Parser } from "htmlparser2";
import { eml, type Harness, harness, outboxIdOf, seedMessage } from "./support.ts";
import { buildEmail, type Draft } from "../support/email_draft.ts";
import {
  checkAutoReply,
  type GuardInput,
  SUPPRESSION_REASONS,
} from "../../src/domain/auto_reply_guard.ts";
import {
  type AccountContext,
  decideReply,
  type ReplyFacts,
  settleReply,
} from "../../src/domain/decide_reply.ts";
import { countRequests, DEFAULT_RATE_LIMIT_POLICY } from "../../src/domain/rate_limit.ts";
import { parseRules, type RuleTrailEntry } from "../../src/domain/rules.ts";
import type { Classification, ParsedEmail } from "../../src/domain/email.ts";
import { classify } from "../../src/domain/classifier.ts";
import { replyMessageId } from "../../src/domain/reply_composer.ts";
import { parseMessage } from "../../src/mail/parse_message.ts";
import { saveParsed } from "../../src/store/messages.ts";
import { AUDIT_EVENT_NAMES, type AuditDetails } from "../../src/domain/audit_events.ts";
import { recordEvents } from "../../src/store/audit.ts";
import type { AuditEvent } from "../../src/domain/audit_events.ts";
import { catalogTexts } from "../../routes/i18n.ts";

const CONNECTED = new Date("2026-01-01T00:00:00Z");
const RECEIVED = new Date("2026-03-01T12:00:00Z");
const ACCOUNT_ADDRESS = "atendimento@empresa.test";
const OUR_ID = replyMessageId("k", "carteiro.empresa.test");

/** The data the fixtures bring: its words may show on any page. */
const DATA: string[] = [
  ACCOUNT_ADDRESS,
  "atendimento",
  "Carteiro",
  "admin@example.test",
  "carteiro.empresa.test",
  // Mailbox names, a token's and a user's names, the rules' words and the mail's header values.
  "INBOX",
  "painel",
  "robo",
  "boleto X-Origem loja site sit",
  // The rules file's own field names (shown in problems as code and in lists of known fields).
  "force locale variants",
];

// ---- Fixtures: suppression reasons with the domain's own details -----------------------------

const DIRECT: Classification = { kind: "direct", original: null, confidence: 1, evidence: [] };

function guardInput(draft: Draft, extra: Partial<GuardInput> = {}): GuardInput {
  return {
    email: buildEmail(draft, { to: [{ name: "", address: ACCOUNT_ADDRESS }] }),
    classification: DIRECT,
    target: "sender",
    accountAddresses: [ACCOUNT_ADDRESS],
    ownAddresses: ["vendas@empresa.test"],
    messageIdDomain: "carteiro.empresa.test",
    connectedAt: CONNECTED,
    receivedAt: RECEIVED,
    ...extra,
  };
}

/** One message per guard reason: the guard's verdict on it. */
const GUARD_CASES: GuardInput[] = [
  guardInput({}, { receivedAt: new Date("2025-12-31T23:00:00Z") }),
  guardInput({ headers: [["X-Filler", "x".repeat(300_000)]] }),
  guardInput({ messageId: OUR_ID }),
  guardInput({ inReplyTo: OUR_ID }),
  guardInput({ headers: [["X-Carteiro-Loop", "carteiro.empresa.test"]] }),
  guardInput({ headers: [["Auto-Submitted", "auto-replied"]] }),
  guardInput({ headers: [["X-Auto-Response-Suppress", "All"]] }),
  guardInput({ headers: [["List-Id", "<vendas.lista.test>"]] }),
  guardInput({ headers: [["Precedence", "bulk"]] }),
  guardInput({ headers: [["Return-Path", "<>"]] }),
  guardInput({ headers: [["X-Failed-Recipients", "ana@cliente.test"]] }),
  guardInput({ headers: [["Content-Type", "multipart/report; report-type=delivery-status"]] }),
  guardInput({ headers: Array.from({ length: 60 }, (_, i) => ["Received", `from h${i}`]) }),
  guardInput({ from: [] }),
  guardInput({
    from: [{ name: "", address: "ana@cliente.test" }, { name: "", address: "bia@cliente.test" }],
  }),
  guardInput({ from: [{ name: "", address: "not an address" }] }),
  guardInput({}, { target: "original_sender" }),
  guardInput({}, {
    target: "original_sender",
    classification: { ...DIRECT, kind: "forwarded", original: null } as unknown as Classification,
  }),
  guardInput({ from: [{ name: "", address: "vendas@empresa.test" }] }),
  guardInput({ from: [{ name: "", address: "postmaster@cliente.test" }] }),
  guardInput({ from: [{ name: "", address: "noreply@cliente.test" }] }),
  guardInput({ from: [{ name: "", address: "mailer-daemon@cliente.test" }] }),
  guardInput({ from: [{ name: "", address: "owner-vendas@lista.test" }] }),
  guardInput({ from: [{ name: "", address: "vendas-request@lista.test" }] }),
  guardInput({ from: [{ name: "", address: "vendas-bounces@lista.test" }] }),
  guardInput({ to: [{ name: "", address: "outro@empresa.test" }] }, {
    policy: { requireAddressed: true },
  }),
  guardInput({
    headers: [["Authentication-Results", "mx.empresa.test; spf=fail smtp.mailfrom=cliente.test"]],
  }, { verdicts: { authservIds: ["mx.empresa.test"], checkAuth: true } }),
  guardInput({ headers: [["X-Spam-Flag", "YES"]] }),
  guardInput({ headers: [["X-Spam-Status", "Yes, score=9.1"]] }),
  guardInput({ headers: [["X-MS-Exchange-Organization-SCL", "9"]] }),
  guardInput({}, { neverAnswer: ["*@cliente.test"] }),
  guardInput({ from: [{ name: "", address: "estranho@fora.test" }] }, {
    target: "original_sender",
    classification: {
      kind: "forwarded",
      original: {
        fromAddress: "carla@cliente.test",
        fromName: "Carla",
        subject: "Dúvida",
        date: null,
        dateIso: null,
      },
      confidence: 0.9,
      evidence: [],
    },
  }),
  guardInput({ from: [{ name: "", address: "estranho@fora.test" }] }, {
    target: "original_sender",
    trustedForwarders: [],
    classification: {
      kind: "forwarded",
      original: {
        fromAddress: "carla@cliente.test",
        fromName: "Carla",
        subject: "Dúvida",
        date: null,
        dateIso: null,
      },
      confidence: 0.9,
      evidence: [],
    },
  }),
];

const ACCOUNT: AccountContext = {
  id: 1,
  name: "atendimento",
  addresses: [ACCOUNT_ADDRESS],
  connectedAt: CONNECTED,
  messageIdDomain: "carteiro.empresa.test",
};

/** Rules whose trail lines cover every condition the matcher explains. */
const TRAIL_RULES = [
  { name: "desligada", enabled: false, when: {}, reply: { to: "sender", text: "x" } },
  {
    name: "encaminhadas",
    when: { kind: "forwarded" },
    reply: { to: "original_sender", text: "x" },
  },
  { name: "conta", when: { account: "outra" }, reply: { to: "sender", text: "x" } },
  { name: "remetente", when: { from: "*@fora.test" }, reply: { to: "sender", text: "x" } },
  {
    name: "original",
    when: { original_from: "*@fora.test" },
    reply: { to: "sender", text: "x" },
  },
  { name: "assunto", when: { subject_contains: "boleto" }, reply: { to: "sender", text: "x" } },
  { name: "regex", when: { subject_regex: "^Boleto" }, reply: { to: "sender", text: "x" } },
  { name: "corpo", when: { body_contains: "boleto" }, reply: { to: "sender", text: "x" } },
  { name: "corpo-regex", when: { body_regex: "boleto\\d+" }, reply: { to: "sender", text: "x" } },
  {
    name: "cabecalho",
    when: { header: { name: "X-Prioridade" } },
    reply: { to: "sender", text: "x" },
  },
  {
    name: "cabecalho-igual",
    when: { header: { name: "X-Origem", equals: "loja" } },
    reply: { to: "sender", text: "x" },
  },
  {
    name: "cabecalho-contem",
    when: { header: { name: "X-Origem", contains: "loja" } },
    reply: { to: "sender", text: "x" },
  },
  {
    name: "qualquer",
    when: { any: [{ kind: "forwarded" }, { from: "*@fora.test" }] },
    reply: { to: "sender", text: "x" },
  },
  { name: "nao", when: { not: { kind: "direct" } }, reply: { to: "sender", text: "x" } },
  {
    name: "horario",
    when: { schedule: { timezone: "America/Sao_Paulo", hours: { "mon-fri": "09:00-10:00" } } },
    reply: { to: "sender", text: "x" },
  },
  {
    name: "feriado",
    when: {
      schedule: {
        timezone: "America/Sao_Paulo",
        hours: { sun: "00:00-24:00" },
        holidays: [
          "2026-03-01",
        ],
      },
    },
    reply: { to: "sender", text: "x" },
  },
  { name: "futura", active_from: "2027-01-01", when: {}, reply: { to: "sender", text: "x" } },
  { name: "passada", active_until: "2026-01-31", when: {}, reply: { to: "sender", text: "x" } },
  {
    name: "resposta",
    active_from: "2026-01-01",
    when: {
      kind: "direct",
      from: "*@cliente.test",
      header: [{ name: "X-Origem" }, { name: "X-Origem", equals: "site" }, {
        name: "X-Origem",
        contains: "sit",
      }],
      subject_contains: "pedido",
      subject_regex: "Pedido",
      body_contains: "pedido",
      any: [{ kind: "direct" }],
      not: { kind: "forwarded" },
      schedule: {
        timezone: "America/Sao_Paulo",
        hours: { sun: "00:00-24:00" },
        outside: false,
      },
    },
    reply: {
      to: "sender",
      subject: "Re: {{subject}}",
      text: "Olá {{from_name}}, recebemos.",
      variants: { en: { text: "Recebemos (en)." } },
    },
  },
];

function decisions(): {
  reason: string;
  detail: string;
  trail: RuleTrailEntry[];
  rule: string;
}[] {
  const out: { reason: string; detail: string; trail: RuleTrailEntry[]; rule: string }[] = [];
  const allowed: number[] = [];
  for (const [i, input] of GUARD_CASES.entries()) {
    const v = checkAutoReply(input);
    if (v.allowed) allowed.push(i);
    else out.push({ reason: v.reason, detail: v.detail, trail: [], rule: "resposta" });
  }
  assert.deepEqual(allowed, [], "guard fixtures that are allowed (each should be suppressed)");
  const parsed = parseRules(TRAIL_RULES);
  assert.ok(parsed.ok, JSON.stringify(parsed));
  const email: ParsedEmail = buildEmail({
    subject: "Pedido 123",
    text: "Olá, meu pedido não chegou.",
    headers: [["X-Origem", "site"], ["Content-Language", "en"]],
    to: [{ name: "", address: ACCOUNT_ADDRESS }],
  });
  const base = {
    email,
    classification: DIRECT,
    account: ACCOUNT,
    receivedAt: RECEIVED,
    rawSha256: "ab".repeat(32),
    rules: parsed.rules,
  };
  const d = decideReply(base);
  assert.equal(d.outcome, "reply", JSON.stringify(d));
  if (d.outcome !== "reply") throw new Error("unreachable");
  // The same rules on a Portuguese message with no header: more trail lines.
  const d2 = decideReply({
    ...base,
    email: buildEmail({ subject: "Boleto", text: "segue o boleto", to: email.to }),
  });
  out.push({ reason: "", detail: "", trail: [...d.trail, ...d2.trail], rule: "resposta" });
  const broken = decideReply({
    ...base,
    rules: [{
      name: "quebrada",
      enabled: true,
      priority: 0,
      when: {},
      action: {
        type: "reply",
        to: "sender",
        subject: "{{segredo}} {{",
        text: "{{a b}} {{x|{{y}}}}",
        html: null,
      },
    }],
  });
  assert.equal(broken.outcome, "suppressed");
  if (broken.outcome === "suppressed") {
    out.push({ reason: broken.reason, detail: broken.detail, trail: broken.trail, rule: "x" });
  }
  const zero = Object.fromEntries(
    countRequests(DEFAULT_RATE_LIMIT_POLICY).map((r) => [r.key, 0]),
  );
  const facts = (p: Partial<ReplyFacts>): ReplyFacts => ({
    alreadyAnswered: false,
    breakers: { recipientTrippedAt: null, accountTrippedAt: null },
    ...p,
    counts: { ...zero, ...p.counts },
  });
  for (
    const f of [
      facts({ alreadyAnswered: true }),
      facts({ recipientBouncedAt: new Date(RECEIVED.getTime() - 86_400_000) }),
      facts({ counts: { "rule_recipient:604800": 1 } }),
      facts({ counts: { "rule_recipient:604800": 2 } }),
      facts({ reservationLost: true }),
      facts({ breakers: { recipientTrippedAt: RECEIVED, accountTrippedAt: null } }),
      facts({ breakers: { accountTrippedAt: RECEIVED, recipientTrippedAt: null } }),
      facts({ counts: { "recipient:3600": 5 } }),
      facts({ counts: { "recipient:86400": 10 } }),
      facts({ counts: { "account:600": 120 } }),
    ]
  ) {
    const s = settleReply(d, f, DEFAULT_RATE_LIMIT_POLICY, RECEIVED);
    assert.equal(s.outcome, "suppressed", JSON.stringify(f));
    if (s.outcome === "suppressed") {
      out.push({ reason: s.reason, detail: s.detail, trail: s.trail, rule: "resposta" });
    }
  }
  return out;
}

/** Messages whose classification the real classifier gives, for its evidence. */
const CLASSIFIED: { raw: string; from: string }[] = [
  {
    from: "Bia <bia@empresa.test>",
    raw: [
      "---------- Forwarded message ---------",
      "From: Carla Dias <carla@cliente.test>",
      "Date: Mon, 2 Mar 2026 at 10:00",
      "Subject: Dúvida sobre o pedido",
      "To: <bia@empresa.test>",
      "",
      "Olá, quando chega?",
    ].join("\r\n"),
  },
  {
    from: "Bia <bia@empresa.test>",
    raw: [
      "Em seg., 2 de mar. de 2026 às 10:00, Carla <carla@cliente.test> escreveu:",
      "> Olá, quando chega?",
    ].join("\r\n"),
  },
  {
    from: "Bia <bia@empresa.test>",
    raw: [
      "-----Original Message-----",
      "From: Carla <carla@cliente.test>",
      "Sent: Monday, March 2, 2026 10:00 AM",
      "To: Bia <bia@empresa.test>",
      "Subject: Dúvida",
      "",
      "Olá",
    ].join("\r\n"),
  },
];

/** One detail per audit event, shaped as the code writes it (the compiler checks each). */
const AUDIT: { [E in keyof AuditDetails]: AuditDetails[E] } = {
  collected: { mailbox: "INBOX", uid: 7, size: 1234 },
  collect_failed: { error: "Command failed" },
  uidvalidity_changed: { mailbox: "INBOX", from: 1, to: 2 },
  mailbox_unavailable: { mailbox: "Arquivo", error: "Mailbox doesn't exist" },
  mailbox_available: { mailbox: "Arquivo" },
  after_processed: { mailbox: "INBOX", action: "move", folder: "Respondidas" },
  after_processing_failed: {
    mailbox: "INBOX",
    action: "seen",
    folder: null,
    error: "Command failed",
  },
  parse_failed: { error: "Unexpected end of input" },
  classified: { kind: "forwarded", confidence: 0.9, original_from: "carla@cliente.test" },
  rule_matched: { rule: "resposta", action: "reply" },
  reply_suppressed: {
    rule: "resposta",
    reason: "auto_submitted",
    detail: 'Auto-Submitted: "auto-replied"',
  },
  breaker_tripped: {
    scope: "recipient",
    detail: "5 replies to this recipient in the last 1 h (limit 5)",
    open_until: "2026-03-01T13:00:00.000Z",
  },
  enqueued: { rule: "resposta", outbox_id: 1, recipient: "ana@cliente.test", dedup_key: "k1" },
  sent: { outbox_id: 1, recipient: "ana@cliente.test", attempt: 1, result: "accepted" },
  send_retry: { outbox_id: 1, recipient: "ana@cliente.test", attempt: 1, result: "temporary" },
  send_failed: { outbox_id: 1, recipient: "ana@cliente.test", attempt: 3, result: "permanent" },
  send_unknown: { outbox_id: 1, why: "lease expired while sending" },
  claim_lost: { outbox_id: 1, recipient: "ana@cliente.test", attempt: 1, result: "accepted" },
  reply_bounced: {
    outbox_id: 1,
    recipient: "ana@cliente.test",
    reply_to_message: 1,
    action: "failed",
    status: "5.1.1",
    diagnostic: "smtp; 550 5.1.1 no such user",
    matched_by: "message_id",
  } as AuditDetails["reply_bounced"],
  reply_delayed: {
    outbox_id: 1,
    recipient: "ana@cliente.test",
    reply_to_message: 1,
    action: "delayed",
    status: "4.4.7",
    diagnostic: null,
    matched_by: "message_id",
  } as AuditDetails["reply_delayed"],
  sent_copied: {
    outbox_id: 1,
    attempt: 1,
    mailbox: "Sent",
    uid: 3,
    already_there: false,
  } as AuditDetails["sent_copied"],
  sent_copy_skipped: { outbox_id: 1, attempt: 1, why: "server_files_sent_mail" } as AuditDetails[
    "sent_copy_skipped"
  ],
  sent_copy_retry: {
    outbox_id: 1,
    attempt: 1,
    error: "Command failed",
    next_attempt_at: "2026-03-01T13:00:00.000Z",
  } as AuditDetails["sent_copy_retry"],
  sent_copy_failed: { outbox_id: 1, attempt: 5, error: "Command failed" } as AuditDetails[
    "sent_copy_failed"
  ],
  smtp_auth_failed: { error: "535 5.7.8 Authentication failed" },
  smtp_auth_cleared: { by: "admin@example.test", reason: "account_edited", was: "535 5.7.8" },
  settled: {
    by: "admin@example.test",
    outbox_id: 1,
    from_status: "unknown",
    to_status: "sent",
  } as AuditDetails["settled"],
  retry_requested: {
    by: "admin@example.test",
    outbox_id: 1,
    from_status: "failed",
    to_status: "pending",
  } as AuditDetails["retry_requested"],
  cancelled: {
    by: "admin@example.test",
    outbox_id: 1,
    from_status: "pending",
    to_status: "cancelled",
  } as AuditDetails["cancelled"],
  classification_overridden: {
    by: "admin@example.test",
    kind: "forwarded",
    original_from: "carla@cliente.test",
  },
  rule_changed: { by: "admin@example.test", action: "created", rule: "resposta" } as AuditDetails[
    "rule_changed"
  ],
  account_changed: {
    by: "admin@example.test",
    action: "updated",
    name: "atendimento",
    imap_password_changed: true,
    smtp_password_changed: false,
  },
  connection_tested: { by: "admin@example.test", ok: false, problem: "authentication" },
  oauth_connected: {
    by: "admin@example.test",
    provider: "google",
    identity: "ana@cliente.test",
    name: "atendimento",
  },
  oauth_reconnected: { by: "admin@example.test", provider: "google", identity: "ana@cliente.test" },
  oauth_refresh_refused: { provider: "google", error: "invalid_grant" },
  token_created: { by: "admin@example.test", name: "painel", scopes: ["read"], expires_at: null },
  token_revoked: { by: "admin@example.test", id: 1 },
  never_answer_added: {
    by: "admin@example.test",
    id: 1,
    pattern: "*@cliente.test",
    account_id: null,
  },
  never_answer_removed: {
    by: "admin@example.test",
    id: 1,
    pattern: "*@cliente.test",
    account_id: null,
  },
  rule_attachment_added: {
    by: "admin@example.test",
    rule: "resposta",
    id: 1,
    filename: "tabela.pdf",
    size: 100,
    sha256: "ab".repeat(32),
  },
  rule_attachment_removed: {
    by: "admin@example.test",
    rule: "resposta",
    id: 1,
    filename: "tabela.pdf",
    size: 100,
    sha256: "ab".repeat(32),
  },
  breaker_reset: {
    by: "admin@example.test",
    id: 1,
    scope: "recipient",
    recipient: "ana@cliente.test",
    tripped_at: "2026-03-01T12:00:00.000Z",
    was_open: true,
  } as AuditDetails["breaker_reset"],
  account_settings_changed: {
    by: "admin@example.test",
    changed: ["time_zone"],
    settings: { time_zone: "America/Sao_Paulo" },
  },
  user_created: { by: "admin@example.test", email: "bia@empresa.test", role: "viewer" },
  user_changed: {
    by: "admin@example.test",
    email: "bia@empresa.test",
    before: { role: "viewer", disabled: false },
    after: { role: "operator", disabled: false },
  },
  user_removed: {
    by: "admin@example.test",
    email: "bia@empresa.test",
    before: { role: "viewer", disabled: true },
  },
  password_changed: { by: "admin@example.test", email: "admin@example.test", sessions_ended: 1 },
  totp_enabled: { by: "admin@example.test", email: "admin@example.test" },
  totp_disabled: { by: "admin@example.test", email: "admin@example.test" },
  recovery_code_used: { email: "admin@example.test", ip: "192.0.2.1", remaining: 9 },
  login: { email: "admin@example.test", ip: "192.0.2.1" },
  login_failed: { email: "admin@example.test", ip: "192.0.2.1" },
  logout: { email: "admin@example.test" },
  message_too_large: { mailbox: "INBOX", uid: 9, size: 157_286_400, limit: 52_428_800 },
  collect_failing: { error: "Command failed", failures: 3 },
  collect_recovered: { failures: 3 },
  rule_replayed: {
    by: "admin@example.test",
    rule: "resposta",
    since: "2026-02-01",
    filters: { kind: "direct" },
    examined: 12,
    enqueued: 10,
    skipped: 2,
    capped: false,
  },
  exported: {
    by: "admin@example.test",
    what: "messages",
    format: "mbox",
    filter: { kind: "direct" },
    count: 12,
    complete: true,
  },
  retention_changed: { by: "admin@example.test", keep_audit_days: 365 },
  retention_purged: {
    by: "cron",
    raw: 3,
    messages: 2,
    decisions: 2,
    replies: 1,
    audit: 5,
    accounts: [{ account_id: 1, raw: 3, messages: 2, replies: 1 }],
  },
  address_erased: {
    by: "admin@example.test",
    address_sha256: "ab12",
    removed: { messages: 2, outbox: 1 },
  },
  webhook_created: {
    by: "admin@example.test",
    id: 1,
    url: "https://hooks.example.com/in",
    events: ["reply.sent"],
    account_id: null,
  },
  webhook_changed: {
    by: "admin@example.test",
    id: 1,
    url: "https://hooks.example.com/in",
    events: ["reply.sent"],
    account_id: null,
    enabled: false,
  },
  webhook_removed: { by: "admin@example.test", id: 1, url: "https://hooks.example.com/in" },
  webhook_resent: {
    by: "admin@example.test",
    delivery_id: 4,
    endpoint_id: 1,
    from_status: "failed",
  },
};

/** Wrong values for the forms that validate them (every field a form reads, when known). */
const BAD_FORMS: Record<string, Record<string, string>> = {
  "POST /rules": {
    definition: JSON.stringify({
      name: "",
      extra: 1,
      enabled: "sim",
      priority: "alta",
      active_from: "ontem",
      active_until: "2026-02-31",
      when: {
        kind: "talvez",
        from: 3,
        account: [],
        original_from: [""],
        subject_regex: "(",
        body_regex: "(a+)+$",
        header: [{ name: "" }, { name: "X", equals: "a", contains: "b" }, { nome: "X" }],
        schedule: { hours: { feriado: "9-18" }, timezone: "Marte/Base", holidays: ["XX"] },
        any: [],
        not: 5,
        quando: 1,
      },
      reply: {
        to: "todos",
        subject: "{{x",
        text: "",
        html: 3,
        cc: ["não é endereço"],
        variants: { fr: { text: "x" }, en: { texto: "x" } },
        limits: { window_seconds: 1 },
        extra: 1,
      },
    }),
  },
  "POST /rules/preview": { definition: "{", message_id: "x" },
  "POST /rules/dry-run": { definition: "[]", days: "999" },
  "POST /accounts": {
    name: "",
    address: "não",
    imap_host: "",
    imap_port: "99999",
    smtp_port: "0",
    mailboxes: "",
    after_processing: "move",
    after_folder: "",
    budget_custom: "on",
    budget_per_minute: "-1",
    budget_per_day: "x",
  },
  "POST /users": { email: "não", role: "chefe", password: "123" },
  "POST /tokens": { name: "", scopes: "tudo", expires: "ontem" },
  "POST /exceptions": { pattern: "não é endereço", account: "x" },
  "POST /password": { current: "errada", password: "123", password_confirm: "456" },
  "POST /accounts/:id/settings": {
    time_zone: "Marte/Base",
    authserv_ids: "não vale",
    trusted_forwarders: "@@",
    limits: '{"window_seconds": 1, "breakers": [{"scope": "x"}], "outro": 1}',
  },
  "POST /accounts/:id/delete": { messages: "", confirm: "" },
  "POST /security/totp/confirm": { code: "000000" },
  "POST /security/totp/off": { current: "errada" },
  "POST /messages/:id/classification": { kind: "forwarded", original_from_address: "não" },
  "POST /setup": { email: "não", password: "1", password_confirm: "2" },
  "POST /login": { email: "ninguem@example.test", password: "x" },
  "POST /login/code": { code: "x" },
};

/** Routes not rendered in this test: machine answers, and the session's own end. */
function isPage(route: string): boolean {
  const [, path] = route.split(" ");
  return !path.startsWith("/api/") && path !== "/metrics" && path !== "/healthz" &&
    !path.startsWith("/static/") && !path.endsWith("/raw") && !path.includes("/export.") &&
    route !== "POST /logout" && route !== "POST /lang";
}

/** Every string value in a JSON-like value (not the keys). */
function stringsOf(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(stringsOf);
  if (v && typeof v === "object") return Object.values(v).flatMap(stringsOf);
  return [];
}

// ---- The check -------------------------------------------------------------------------------

const WORD = /[\p{L}][\p{L}\p{M}'’-]*/gu;

function wordsOf(text: string): string[] {
  return (text.match(WORD) ?? []).flatMap((w) => w.split(/[-'’]/)).filter((w) => w.length > 1)
    .map((w) => w.toLowerCase());
}

/** The words Intl writes for dates and relative times in Portuguese. */
function intlWords(): string[] {
  const out: string[] = [];
  const rel = new Intl.RelativeTimeFormat("pt-BR", { numeric: "always" });
  for (const unit of ["second", "minute", "hour", "day"] as const) {
    for (const n of [1, 2, 5]) out.push(rel.format(-n, unit), rel.format(n, unit));
  }
  for (let m = 0; m < 12; m++) {
    const d = new Date(Date.UTC(2026, m, 15));
    out.push(new Intl.DateTimeFormat("pt-BR", { dateStyle: "full" }).format(d));
    out.push(new Intl.DateTimeFormat("pt-BR", { dateStyle: "medium" }).format(d));
  }
  return out;
}

const CODE = new Set(["code", "pre", "textarea"]);

interface Offence {
  text: string;
  words: string[];
}

/** Visible text and the attributes people read, with what is not allowed in each. */
function offences(html: string, allowed: Set<string>): Offence[] {
  const found: Offence[] = [];
  const check = (text: string, inCode: boolean) => {
    const bad = wordsOf(text).filter((w) => !allowed.has(w) && !(inCode && /^[a-z]+$/.test(w)));
    if (bad.length) found.push({ text: text.trim().slice(0, 160), words: [...new Set(bad)] });
  };
  const stack: string[] = [];
  const codeTags: string[] = [];
  let hidden = 0;
  let code = 0;
  // Text between two tags is one text, whatever chunks the parser hands it over in.
  let text = "";
  const flush = () => {
    if (hidden === 0 && text.trim()) check(text, code > 0);
    text = "";
  };
  const parser = new Parser({
    onopentag(name, attrs) {
      flush();
      stack.push(name);
      if (name === "script" || name === "style") hidden++;
      // Code, and the raw header fields of a message, are shown as they are.
      if (CODE.has(name) || (name === "table" && /\bheaders\b/.test(attrs.class ?? ""))) {
        code++;
        codeTags.push(name);
      } else codeTags.push("");
      for (const a of ["title", "placeholder", "aria-label", "alt"]) {
        if (attrs[a]) check(attrs[a], false);
      }
      if (name === "input" && (attrs.type === "submit" || attrs.type === "button") && attrs.value) {
        check(attrs.value, false);
      }
    },
    ontext(chunk) {
      text += chunk;
    },
    onclosetag(name) {
      flush();
      stack.pop();
      if (name === "script" || name === "style") hidden--;
      if (codeTags.pop()) code--;
    },
  }, { decodeEntities: true });
  parser.write(html);
  parser.end();
  flush();
  return found;
}

// ---- The walk --------------------------------------------------------------------------------

async function seed(h: Harness): Promise<Record<string, string>> {
  const token = await h.apiToken("robo");
  const apiPost = async (path: string, body: unknown) => {
    const res = await h.request(path, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    assert.ok(res.status < 300, `${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
  let ruleId = 0;
  for (const r of TRAIL_RULES.slice(-3)) {
    const made = await apiPost("/api/v1/rules", r);
    ruleId = made.id ?? made.rule?.id ?? ruleId;
  }
  const cases = decisions();
  const covered = new Set(cases.map((c) => c.reason));
  const missing = [
    ...SUPPRESSION_REASONS,
    "invalid_rule",
    "already_answered",
    "recipient_bounced",
    "rate_limited",
    "loop_suspected",
  ].filter((r) => !covered.has(r));
  assert.deepEqual(missing, [], "suppression reasons without a fixture");
  let messageId = 0;
  for (const [i, c] of cases.entries()) {
    messageId = await seedMessage(h.db, eml({ subject: `Pedido ${i}` }), {
      receivedAt: new Date(RECEIVED.getTime() - i * 60_000),
      decision: c.reason
        ? {
          outcome: "suppressed",
          ruleName: c.rule,
          reason: c.reason,
          detail: c.detail,
          trail: c.trail,
        }
        : { outcome: "reply", ruleName: c.rule, reason: null, detail: null, trail: c.trail },
      outbox: c.reason ? undefined : { status: "sent" },
    });
  }
  for (const c of CLASSIFIED) {
    const raw = eml({ from: c.from, subject: "Fwd: Dúvida", text: c.raw });
    const id = await seedMessage(h.db, raw, { kind: "forwarded" });
    const parsed = await parseMessage(raw);
    assert.ok(parsed.ok);
    await saveParsed(h.db, id, parsed.email, classify(parsed.email), RECEIVED);
    DATA.push(c.raw, c.from);
  }
  for (const status of ["pending", "failed", "unknown", "cancelled", "bounced"]) {
    const id = await seedMessage(h.db, eml({ subject: `Status ${status}` }), {
      decision: { outcome: "reply", ruleName: "resposta", reason: null, detail: null, trail: [] },
      outbox: { status },
    });
    await outboxIdOf(h.db, id);
  }
  await seedMessage(h.db, eml({ subject: "Quebrada" }), { failParse: "Unexpected end of input" });
  await recordEvents(
    h.db,
    AUDIT_EVENT_NAMES.map((event, i) => ({
      event,
      at: new Date(RECEIVED.getTime() + i * 1000),
      accountId: 1,
      messageId,
      detail: AUDIT[event],
    } as AuditEvent)),
  );
  await h.post("/exceptions", { pattern: "*@bloqueado.test" });
  await h.post("/tokens", { name: "painel", scopes: "read" });
  await h.post("/users", {
    email: "bia@empresa.test",
    role: "viewer",
    password: "senha forte 123",
  });
  await h.db.query(
    `INSERT INTO breakers (account_id, scope, recipient, tripped_at, open_until, detail)
     VALUES (1, 'recipient', 'ana@cliente.test', $1, NULL, $2)`,
    [RECEIVED, "5 replies to this recipient in the last 1 h (limit 5)"],
  ).catch(() => {});
  const [user] = await h.db.query<{ id: number }>(
    "SELECT id FROM users WHERE email = 'bia@empresa.test'",
  );
  const [breaker] = await h.db.query<{ id: number }>("SELECT id FROM breakers LIMIT 1").catch(
    () => [],
  );
  const [outbox] = await h.db.query<{ id: number }>("SELECT id FROM outbox ORDER BY id LIMIT 1");
  const [exception] = await h.db.query<{ id: number }>("SELECT id FROM never_answer LIMIT 1");
  const [tok] = await h.db.query<{ id: number }>(
    "SELECT id FROM api_tokens WHERE name = 'painel'",
  );
  return {
    messages: String(messageId),
    outbox: String(outbox.id),
    rules: String(ruleId),
    accounts: "1",
    users: String(user?.id ?? 1),
    tokens: String(tok?.id ?? 1),
    exceptions: String(exception?.id ?? 1),
    breakers: String(breaker?.id ?? 1),
  };
}

function fill(route: string, ids: Record<string, string>): string {
  const [, template] = route.split(" ");
  const section = template.split("/")[1];
  return template
    .replace(/:file(\{[^}]*\})?/, "1")
    .replace(/:id(\{[^}]*\})?/, ids[section] ?? "1")
    .replace(/:name/, "app.css");
}

Deno.test("pt-BR: every page and fragment shows only catalog words and data", async () => {
  const h = await harness();
  try {
    await h.login();
    h.jar.set("carteiro_lang", "pt-BR");
    h.jar.set("carteiro_tz", "America/Sao_Paulo");
    const ids = await seed(h);
    const allowed = new Set([
      ...catalogTexts("pt-BR").flatMap(wordsOf),
      ...intlWords().flatMap(wordsOf),
      ...DATA.flatMap(wordsOf),
      // The fixtures' data: the values of the forms, the rules' names and texts, the header
      // values and bodies of the seeded mail (header names show only in the headers table).
      ...stringsOf([
        BAD_FORMS,
        TRAIL_RULES.map((r) => [r.name, r.reply.text, (r.reply as { subject?: string }).subject]),
      ]).flatMap(wordsOf),
      ...(await h.db.query<{ raw: Uint8Array }>("SELECT raw FROM messages")).flatMap((r) =>
        new TextDecoder().decode(r.raw).split(/\r?\n/).map((l) => l.replace(/^[\w-]+: /, ""))
      ).flatMap(wordsOf),
    ]);
    const routes = [
      ...new Set(
        h.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`),
      ),
    ].filter(isPage);
    const report: string[] = [];
    const seen = new Set<string>();
    for (
      const route of routes.sort((a, b) =>
        (a.startsWith("GET") ? -1 : 1) - (b.startsWith("GET") ? -1 : 1)
      )
    ) {
      const [method] = route.split(" ");
      const path = fill(route, ids);
      const simple = route.replace(/\{[^}]*\}/g, "");
      const forms = method === "GET"
        ? [null]
        : [{}, BAD_FORMS[simple] ?? BAD_FORMS[simple.replace(/:id\//, ":id/")] ?? null]
          .filter((f) => f !== null);
      for (const form of forms) {
        for (const fragment of [false, true]) {
          const headers: Record<string, string> = fragment ? { "HX-Request": "true" } : {};
          const res = method === "GET"
            ? await h.request(path, { headers })
            : await h.post(path, form as Record<string, string>, headers);
          const type = res.headers.get("Content-Type") ?? "";
          const body = await res.text();
          if (!type.startsWith("text/html") && !type.startsWith("text/plain")) continue;
          const where = `${method} ${path}${fragment ? " (fragment)" : ""}${
            form && Object.keys(form).length ? " (wrong values)" : ""
          } → ${res.status}`;
          const found = type.startsWith("text/plain")
            ? (wordsOf(body).some((w) => !allowed.has(w))
              ? [{ text: body.slice(0, 160), words: wordsOf(body).filter((w) => !allowed.has(w)) }]
              : [])
            : offences(body, allowed);
          for (const o of found) {
            const key = `${o.words.join(",")}|${o.text}`;
            if (seen.has(key)) continue;
            seen.add(key);
            report.push(`${where}: «${o.text}» (${o.words.join(", ")})`);
          }
        }
      }
      // A POST may have ended the session (a password change, a user removed): log in again.
      const alive = await h.request("/overview");
      await alive.body?.cancel();
      if (alive.status !== 200) {
        await h.login();
        h.jar.set("carteiro_lang", "pt-BR");
      }
    }
    assert.deepEqual(
      report,
      [],
      `English (or other text not in the catalog) on pt-BR pages, ${report.length} places:\n` +
        report.join("\n"),
    );
  } finally {
    await h.close();
  }
});
