/**
 * The admin's message list at scale: response time of `listMessages` (src/store/message_list.ts)
 * with COUNT stored messages (default 1,000,000) in a fresh PostgreSQL database — first page,
 * keyset pages deep into the list against the same depth read with LIMIT/OFFSET, filters and
 * full-text search. Each case runs 30–50 times after a warm-up; p50 and p95 in milliseconds.
 * The messages are made on the server (`INSERT … SELECT … FROM generate_series`): pt-BR and
 * English subjects and bodies drawn from small word lists by a hash of the series number, ~35 %
 * forwarded, a few unparsed, small raw sources, dates spread over the last year, with decisions
 * and outbox rows like the pipeline writes them. The generated column `received_at` and the
 * search vectors (`message_search`, kept by triggers) are filled by PostgreSQL itself, exactly as
 * for real mail.
 *
 *   deno run -A bench/message_list.ts [COUNT] [--keep] [--reuse NAME]   writes bench/RESULTS-admin.md
 *
 * `--keep` leaves the loaded database in place (its name is printed) and `--reuse NAME` measures
 * such a database again without loading it (new migrations are applied first): loading a million
 * rows takes minutes of both cores, measuring a changed query takes seconds.
 */
import type { Db, Queryable } from "../src/store/db.ts";
import { openPostgres } from "../src/store/postgres_db.ts";
import { migrate, readMigrations } from "../src/store/migrate.ts";
import { createAccount } from "../src/store/accounts_admin.ts";
import { getMessageDetail } from "../src/store/message_detail.ts";
import { listOutbox } from "../src/store/outbox_admin.ts";
import { type AuditCursor, type AuditFilters, listAudit } from "../src/store/audit_list.ts";
import {
  listMessages,
  type MessageCursor,
  type MessageFilters,
  SEARCH_PROBE_ROWS,
} from "../src/store/message_list.ts";
import {
  fixed,
  freshPostgresDatabase,
  loadAverage,
  machine,
  percentile,
  POSTGRES_ADMIN_URL,
  ROOT,
  table,
} from "./support.ts";

const REUSE_AT = Deno.args.indexOf("--reuse");
const REUSE = REUSE_AT >= 0 ? (Deno.args[REUSE_AT + 1] ?? "") : null;
const ARGS_LOAD_ONLY = Deno.args.includes("--load-only");
const KEEP = Deno.args.includes("--keep") || ARGS_LOAD_ONLY || REUSE !== null;
const POSITIONAL = Deno.args.filter((a, i) =>
  !a.startsWith("--") && (REUSE_AT < 0 || i !== REUSE_AT + 1)
);
const COUNT = Number(POSITIONAL[0] ?? 1_000_000);
if (!Number.isInteger(COUNT) || COUNT < 1000 || (REUSE !== null && !/^\w+$/.test(REUSE))) {
  console.error("usage: deno run -A bench/message_list.ts [COUNT ≥ 1000] [--keep] [--reuse NAME]");
  Deno.exit(2);
}
const PAGE = 50; // the page size of /messages and of /api/v1/messages by default
const CHUNK = 50_000;
const RESULTS = `${ROOT}bench/RESULTS-admin.md`;

const say = (line: string) => console.error(line);

// ---------------------------------------------------------------------------------------------
// Word lists. The first words of each list come up most often (a squared uniform draw).

const PT_WORDS = [
  "pedido",
  "para",
  "com",
  "não",
  "pagamento",
  "segue",
  "entrega",
  "cliente",
  "prazo",
  "valor",
  "conforme",
  "anexo",
  "favor",
  "semana",
  "obrigado",
  "contrato",
  "proposta",
  "documento",
  "amanhã",
  "hoje",
  "equipe",
  "projeto",
  "relatório",
  "nota",
  "fiscal",
  "boleto",
  "vencimento",
  "desconto",
  "produto",
  "serviço",
  "endereço",
  "telefone",
  "contato",
  "atendimento",
  "informação",
  "solicitação",
  "confirmação",
  "aprovação",
  "revisão",
  "análise",
  "situação",
  "questão",
  "dúvida",
  "atenção",
  "urgente",
  "retorno",
  "resposta",
  "cadastro",
  "sistema",
  "acesso",
  "senha",
  "conta",
  "fatura",
  "cobrança",
  "transferência",
  "depósito",
  "recibo",
  "orçamento",
  "cotação",
  "fornecedor",
  "estoque",
  "frete",
  "transportadora",
  "escritório",
  "cronograma",
  "agenda",
  "planilha",
  "assinatura",
  "garantia",
  "devolução",
  "rastreamento",
  "encomenda",
  "também",
  "então",
  "você",
  "até",
  "já",
  "mais",
  "muito",
  "quando",
];
const EN_WORDS = [
  "order",
  "the",
  "and",
  "please",
  "payment",
  "to",
  "for",
  "delivery",
  "customer",
  "deadline",
  "amount",
  "attached",
  "we",
  "you",
  "week",
  "thanks",
  "contract",
  "proposal",
  "document",
  "tomorrow",
  "today",
  "team",
  "project",
  "report",
  "invoice",
  "discount",
  "product",
  "service",
  "address",
  "phone",
  "contact",
  "support",
  "information",
  "request",
  "confirmation",
  "approval",
  "review",
  "analysis",
  "status",
  "question",
  "attention",
  "urgent",
  "reply",
  "account",
  "system",
  "access",
  "password",
  "billing",
  "transfer",
  "deposit",
  "receipt",
  "quote",
  "supplier",
  "stock",
  "shipping",
  "carrier",
  "office",
  "schedule",
  "update",
  "issue",
  "ticket",
  "refund",
  "warranty",
  "shipment",
  "tracking",
  "package",
  "budget",
  "forecast",
  "agenda",
  "call",
  "regarding",
  "details",
  "available",
  "confirm",
  "check",
  "need",
  "our",
];
const PT_HEADS = [
  "Orçamento",
  "Reunião",
  "Pedido",
  "Nota fiscal",
  "Cotação",
  "Dúvida sobre",
  "Contrato",
  "Entrega",
  "Pagamento",
  "Proposta",
  "Relatório",
  "Convite",
  "Atualização",
  "Solicitação",
];
const EN_HEADS = [
  "Invoice",
  "Meeting",
  "Order",
  "Quote",
  "Question about",
  "Contract",
  "Delivery",
  "Payment",
  "Proposal",
  "Report",
  "Invitation",
  "Update",
  "Request",
];
const FIRST = [
  "Ana",
  "João",
  "Maria",
  "José",
  "Luíza",
  "Paulo",
  "Fernanda",
  "Antônio",
  "Beatriz",
  "Márcio",
  "Carla",
  "Rafael",
  "Juliana",
  "Pedro",
  "Camila",
  "Lucas",
  "Patrícia",
  "Gabriel",
  "Larissa",
  "Thiago",
  "John",
  "Mary",
  "David",
  "Sarah",
  "Michael",
  "Emma",
  "James",
  "Olivia",
  "Robert",
  "Laura",
];
const LAST = [
  "Silva",
  "Santos",
  "Oliveira",
  "Souza",
  "Rodrigues",
  "Ferreira",
  "Alves",
  "Pereira",
  "Lima",
  "Gomes",
  "Costa",
  "Ribeiro",
  "Martins",
  "Carvalho",
  "Araújo",
  "Melo",
  "Barbosa",
  "Rocha",
  "Dias",
  "Nunes",
  "Smith",
  "Johnson",
  "Brown",
  "Taylor",
  "Miller",
  "Wilson",
  "Moore",
  "Clark",
];
const DOMAINS = [
  "gmail.com",
  "hotmail.com",
  "outlook.com",
  "yahoo.com.br",
  "uol.com.br",
  "empresa.com.br",
  "acme.example",
  "bol.com.br",
  "terra.com.br",
  "example.org",
  "cliente.com.br",
  "fornecedor.com.br",
];
/** Put into about one English body in 20,000: the "rare word" of the search cases. */
const RARE = "zeppelin";
/** A topic of the oldest tenth of the mail only (one pt-BR body in two there, ~3 % of all). */
const OLD_TOPIC = "pandemia";
/**
 * Real mail has a vocabulary of many thousand words (names, places, products, codes); PostgreSQL's
 * statistics for the `search` column depend on it. Each body gets a few pseudo-words of three of
 * these syllables (216,000 of them, none spelling a searched word) and a reference number.
 */
const SYLLABLES = "bcdfglmnrstv".split("").flatMap((c) => [..."aeiou"].map((v) => c + v));

const arr = (words: string[]) =>
  `ARRAY[${words.map((w) => `'${w.replaceAll("'", "''")}'`).join(", ")}]::text[]`;

/** Helpers for the fill, in the throwaway database only. */
const HELPERS = `
CREATE FUNCTION bench_h(g bigint, salt integer) RETURNS bigint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT hashint8extended(g, salt) & 9223372036854775807 $$;
CREATE FUNCTION bench_pick(a text[], g bigint, salt integer) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT a[1 + bench_h(g, salt) % cardinality(a)] $$;
CREATE FUNCTION bench_words(a text[], g bigint, salt integer, n integer) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT string_agg(
          a[1 + floor(cardinality(a) * ((bench_h(g, salt + k) % 1000003)::float8 / 1000003) ^ 2)::int],
          ' ')
        FROM generate_series(1, n) k $$;
CREATE FUNCTION bench_pseudo(g bigint, salt integer, n integer) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT string_agg(s[1 + bench_h(g, salt + 3 * k) % c] || s[1 + bench_h(g, salt + 3 * k + 1) % c]
                          || s[1 + bench_h(g, salt + 3 * k + 2) % c], ' ')
        FROM generate_series(1, n) k,
          (SELECT ${arr(SYLLABLES)} AS s, ${SYLLABLES.length} AS c) x $$;
CREATE FUNCTION bench_mailbox(s text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT translate(lower(s), 'áàâãäéèêëíìîïóòôõöúùûüç ', 'aaaaaeeeeiiiiooooouuuuc.') $$;
`;

/**
 * Messages lo..hi (series numbers = UIDs), as the collector and the parser leave them: every row
 * has its raw bytes; parsed ones have headers, addresses, text, a classification. ~0.5 % failed
 * to parse; the newest 20 are still pending. Dates rise with the series number over one year,
 * with up to an hour of jitter; 1 % have no INTERNALDATE (received_at = collected_at).
 */
function fillSql(lo: number, hi: number, accountId: number, startIso: string): string {
  const step = (365 * 86400) / COUNT;
  return `
WITH s AS (
  SELECT g,
    bench_h(g, 1) % 100 < 60 AS pt,
    CASE WHEN g > ${COUNT - 20} THEN 'pending'
         WHEN bench_h(g, 2) % 1000 < 5 THEN 'failed' ELSE 'parsed' END AS st,
    bench_h(g, 3) % 100 < 35 AS fwd,
    bench_h(g, 4) % 100 = 0 AS nodate,
    '${startIso}'::timestamptz
      + ((g - 1) * ${step} + bench_h(g, 5) % 3600) * interval '1 second' AS at,
    bench_pick(${arr(FIRST)}, g, 10) AS fn, bench_pick(${arr(LAST)}, g, 11) AS ln,
    bench_pick(${arr(DOMAINS)}, g, 12) AS dom,
    bench_pick(${arr(FIRST)}, g, 13) AS ofn, bench_pick(${arr(LAST)}, g, 14) AS oln,
    bench_pick(${arr(DOMAINS)}, g, 15) AS odom
  FROM generate_series(${lo}, ${hi}) g
), t AS MATERIALIZED (
  SELECT s.*,
    bench_mailbox(fn || ' ' || ln) || '@' || dom AS addr,
    bench_mailbox(ofn || ' ' || oln) || '@' || odom AS oaddr,
    CASE WHEN pt
      THEN bench_pick(${arr(PT_HEADS)}, g, 16) || ' ' || bench_words(${
    arr(PT_WORDS)
  }, g, 100, 2 + (g % 3)::int)
      ELSE bench_pick(${arr(EN_HEADS)}, g, 16) || ' ' || bench_words(${
    arr(EN_WORDS)
  }, g, 100, 2 + (g % 3)::int)
    END AS subj0,
    CASE WHEN pt
      THEN 'Olá, bom dia.' || E'\\n\\n'
        || bench_words(${arr(PT_WORDS)}, g, 200, 15 + (bench_h(g, 17) % 30)::int)
        || ' ' || bench_pseudo(g, 300, 6) || ', ref. ' || (100000 + bench_h(g, 26) % 900000)
        || CASE WHEN g <= ${Math.floor(COUNT / 10)} AND bench_h(g, 27) % 2 = 0
             THEN ' ${OLD_TOPIC}' ELSE '' END
        || E'.\\n\\nAtenciosamente,\\n'
      ELSE 'Hi, good morning.' || E'\\n\\n'
        || bench_words(${arr(EN_WORDS)}, g, 200, 15 + (bench_h(g, 17) % 30)::int)
        || ' ' || bench_pseudo(g, 300, 6) || ', ref. ' || (100000 + bench_h(g, 26) % 900000)
        || CASE WHEN bench_h(g, 18) % 20000 = 0 THEN ' ${RARE}' ELSE '' END
        || E'.\\n\\nBest regards,\\n'
    END AS body0
  FROM s
), u AS (
  SELECT t.*,
    CASE WHEN fwd THEN (CASE WHEN pt THEN 'ENC: ' ELSE 'Fwd: ' END) || subj0
         WHEN bench_h(g, 19) % 4 = 0 THEN 'Re: ' || subj0 ELSE subj0 END AS subject,
    CASE WHEN fwd THEN
      (CASE WHEN pt
        THEN E'Segue abaixo, por favor responder.\\n\\n---------- Mensagem encaminhada ---------\\nDe: '
        ELSE E'See below, please reply.\\n\\n---------- Forwarded message ---------\\nFrom: ' END)
      || ofn || ' ' || oln || ' <' || oaddr || E'>\\n'
      || (CASE WHEN pt THEN 'Data: ' ELSE 'Date: ' END)
      || to_char(at - interval '2 hours', 'Dy, DD Mon YYYY HH24:MI') || E'\\n'
      || (CASE WHEN pt THEN 'Assunto: ' ELSE 'Subject: ' END) || subj0 || E'\\n'
      || (CASE WHEN pt THEN 'Para: ' ELSE 'To: ' END) || fn || ' ' || ln || ' <' || addr
      || E'>\\n\\n' || body0 || ofn || ' ' || oln
    ELSE body0 || fn || ' ' || ln END AS body,
    '<' || g || '.' || bench_h(g, 20) % 1000000007 || '@' || dom || '>' AS mid
  FROM t
), v AS (
  SELECT u.*,
    'Message-ID: ' || mid || E'\\r\\nFrom: ' || fn || ' ' || ln || ' <' || addr
      || E'>\\r\\nTo: Atendimento <atendimento@carteiro.example>\\r\\nSubject: ' || subject
      || E'\\r\\nDate: ' || to_char(at - interval '1 minute', 'Dy, DD Mon YYYY HH24:MI:SS +0000')
      || E'\\r\\nMIME-Version: 1.0\\r\\nContent-Type: text/plain; charset=utf-8\\r\\n\\r\\n'
      || replace(body, E'\\n', E'\\r\\n') AS rawtext
  FROM u
)
INSERT INTO messages (account_id, mailbox, uidvalidity, uid, content_sha256, raw, size,
  internal_date, collected_at, parse_status, parse_error, parsed_at, message_id, from_address,
  from_name, sender, reply_to, to_addresses, cc_addresses, subject, sent_date, in_reply_to,
  "references", headers, text_body, html_body, attachments, kind, confidence, evidence,
  original_from_address, original_from_name, original_subject, original_date, original_date_iso,
  classified_at)
SELECT ${accountId}, 'INBOX', 1, g, encode(sha256(convert_to(rawtext, 'UTF8')), 'hex'),
  convert_to(rawtext, 'UTF8'), octet_length(convert_to(rawtext, 'UTF8')),
  CASE WHEN nodate THEN NULL ELSE at END, at + interval '40 seconds',
  st, CASE WHEN st = 'failed' THEN 'Invalid MIME structure: unexpected end of multipart body' END,
  CASE WHEN st <> 'pending' THEN at + interval '41 seconds' END,
  CASE WHEN st = 'parsed' THEN mid END,
  CASE WHEN st = 'parsed' THEN addr END,
  CASE WHEN st = 'parsed' THEN fn || ' ' || ln END,
  CASE WHEN st = 'parsed' THEN 'null'::jsonb END,
  CASE WHEN st = 'parsed' THEN '[]'::jsonb END,
  CASE WHEN st = 'parsed'
    THEN '[{"name": "Atendimento", "address": "atendimento@carteiro.example"}]'::jsonb END,
  CASE WHEN st <> 'parsed' THEN NULL
    WHEN bench_h(g, 21) % 10 = 0
    THEN jsonb_build_array(jsonb_build_object('name', ofn || ' ' || oln, 'address', oaddr))
    ELSE '[]'::jsonb END,
  CASE WHEN st = 'parsed' THEN subject END,
  CASE WHEN st = 'parsed' THEN at - interval '1 minute' END,
  CASE WHEN st = 'parsed' AND subject LIKE 'Re: %' THEN '<' || (g - 7) || '.reply@' || dom || '>' END,
  CASE WHEN st <> 'parsed' THEN NULL
    WHEN subject LIKE 'Re: %' THEN jsonb_build_array('<' || (g - 7) || '.reply@' || dom || '>')
    ELSE '[]'::jsonb END,
  CASE WHEN st = 'parsed' THEN jsonb_build_object(
    'message-id', jsonb_build_array(mid),
    'from', jsonb_build_array(fn || ' ' || ln || ' <' || addr || '>'),
    'to', jsonb_build_array('Atendimento <atendimento@carteiro.example>'),
    'subject', jsonb_build_array(subject),
    'date', jsonb_build_array(to_char(at - interval '1 minute', 'Dy, DD Mon YYYY HH24:MI:SS +0000')),
    'mime-version', jsonb_build_array('1.0'),
    'content-type', jsonb_build_array('text/plain; charset=utf-8')) END,
  CASE WHEN st = 'parsed' THEN body END,
  CASE WHEN st = 'parsed' AND bench_h(g, 22) % 10 < 3
    THEN '<div dir="ltr">' || replace(body, E'\\n', '<br>') || '</div>' END,
  CASE WHEN st <> 'parsed' THEN NULL
    WHEN bench_h(g, 23) % 10 = 0 THEN jsonb_build_array(jsonb_build_object(
      'filename', 'documento-' || g || '.pdf', 'contentType', 'application/pdf',
      'size', 20000 + bench_h(g, 24) % 180000, 'contentId', NULL, 'disposition', 'attachment'))
    ELSE '[]'::jsonb END,
  CASE WHEN st = 'parsed' THEN (CASE WHEN fwd THEN 'forwarded' ELSE 'direct' END) END,
  CASE WHEN st = 'parsed' THEN (0.70 + (bench_h(g, 25) % 30) / 100.0)::real END,
  CASE WHEN st <> 'parsed' THEN NULL
    WHEN fwd THEN '["subject starts with a forward prefix", "forward separator at line 3"]'::jsonb
    ELSE '["no forward marks in the body"]'::jsonb END,
  CASE WHEN st = 'parsed' AND fwd THEN oaddr END,
  CASE WHEN st = 'parsed' AND fwd THEN ofn || ' ' || oln END,
  CASE WHEN st = 'parsed' AND fwd THEN subj0 END,
  CASE WHEN st = 'parsed' AND fwd THEN to_char(at - interval '2 hours', 'Dy, DD Mon YYYY HH24:MI') END,
  CASE WHEN st = 'parsed' AND fwd THEN at - interval '2 hours' END,
  CASE WHEN st = 'parsed' THEN at + interval '41 seconds' END
FROM v`;
}

/** Decisions for the parsed messages with ids lo..hi, and outbox rows for the replies. */
function decisionsSql(lo: number, hi: number): string[] {
  return [
    `INSERT INTO decisions (message_id, decided_at, outcome, rule_name, reason, detail, trail)
     SELECT id, received_at + interval '42 seconds', o,
       CASE o WHEN 'reply' THEN 'Resposta automática' WHEN 'suppressed' THEN 'Resposta automática' END,
       CASE o WHEN 'reply' THEN 'rule matched'
              WHEN 'suppressed' THEN (ARRAY['reply limit: already answered this sender',
                'auto-submitted message', 'mailing list (List-Id)'])[1 + bench_h(id, 31) % 3]
              WHEN 'ignored' THEN 'direct message, not a forward'
              ELSE 'no rule matched' END,
       NULL,
       '[{"rule": "Resposta automática", "hit": true, "why": "kind is forwarded"}]'::jsonb
     FROM (SELECT id, received_at,
             CASE WHEN bench_h(id, 30) % 100 < 15 THEN 'reply'
                  WHEN bench_h(id, 30) % 100 < 25 THEN 'suppressed'
                  WHEN bench_h(id, 30) % 100 < 85 THEN 'no_rule' ELSE 'ignored' END AS o
           FROM messages WHERE id BETWEEN ${lo} AND ${hi} AND parse_status = 'parsed') x`,
    `INSERT INTO outbox (dedup_key, message_id, account_id, rule_name, status, recipient,
       recipient_name, from_address, from_name, subject, text_body, message_id_header, in_reply_to,
       "references", attempts, next_attempt_at, deadline_at, created_at, updated_at, sent_at,
       last_error)
     SELECT 'bench:' || m.id || ':' || d.rule_name, m.id, m.account_id, d.rule_name, x.status,
       COALESCE(m.original_from_address, m.from_address),
       COALESCE(m.original_from_name, m.from_name, ''), 'atendimento@carteiro.example',
       'Atendimento', 'Re: ' || COALESCE(m.original_subject, m.subject),
       'Olá! Recebemos sua mensagem e responderemos em breve.',
       '<reply.' || m.id || '@carteiro.example>', m.message_id,
       jsonb_build_array(m.message_id), 1, d.decided_at, d.decided_at + interval '3 days',
       d.decided_at, d.decided_at + interval '2 seconds',
       CASE WHEN x.status = 'sent' THEN d.decided_at + interval '2 seconds' END,
       CASE WHEN x.status IN ('failed', 'unknown') THEN '451 4.3.0 temporary failure' END
     FROM messages m
     JOIN decisions d ON d.message_id = m.id AND d.outcome = 'reply'
     CROSS JOIN LATERAL (SELECT CASE WHEN bench_h(m.id, 32) % 100 < 96 THEN 'sent'
                                     WHEN bench_h(m.id, 32) % 100 < 98 THEN 'failed'
                                     WHEN bench_h(m.id, 32) % 100 < 99 THEN 'unknown'
                                     ELSE 'cancelled' END AS status) x
     WHERE m.id BETWEEN ${lo} AND ${hi}
     ORDER BY m.id`,
  ];
}

// ---------------------------------------------------------------------------------------------
// Measuring.

type Statement = { text: string; params: unknown[] };

interface Plan {
  ms: number;
  shape: string;
  hot: string;
  /** The planner's estimate of the rows an index walk on messages_received yields, if any. */
  walkEstimate: number | null;
  /** The scans of the plan: index scans by index, others by table. */
  uses: string[];
}

interface Case {
  group: string;
  name: string;
  n: number;
  rows: number;
  p50: number;
  p95: number;
  /** The statements of the last run and their parameters, for EXPLAIN. */
  sql: Statement[];
  note?: string;
  /** One plan per statement of the last run. */
  plans?: Plan[];
}

interface DepthRow {
  depth: number;
  keyset: Case;
  offset: Case;
}

/** A Queryable that remembers the statements of its last call (a call starts at `mark`). */
function recorder(q: Queryable) {
  let last: Statement[] = [];
  let fresh = true;
  const r: Queryable = {
    query(text, params = []) {
      if (fresh) last = [];
      fresh = false;
      last.push({ text, params });
      return q.query(text, params);
    },
  };
  return { q: r, last: () => last, mark: () => void (fresh = true) };
}

async function timeOf(fn: () => Promise<number>): Promise<{ ms: number; rows: number }> {
  const t0 = performance.now();
  const rows = await fn();
  return { ms: performance.now() - t0, rows };
}

/**
 * Warm-up runs, then 50 timed runs — 30 when a run takes over 100 ms, 10 when it takes over 3 s,
 * to keep the whole benchmark near ten minutes. `fn(i)` gets the run number, negative for
 * warm-ups.
 */
async function measure(
  group: string,
  name: string,
  fn: (i: number) => Promise<number>,
  last: () => Statement[],
): Promise<Case> {
  let n = 10;
  if ((await timeOf(() => fn(-1))).ms <= 3000) {
    const w = await timeOf(() => fn(-2));
    if (w.ms <= 100) await fn(-3);
    n = w.ms > 3000 ? 10 : w.ms > 100 ? 30 : 50;
  }
  const samples: number[] = [];
  let rows = 0;
  for (let i = 0; i < n; i++) {
    const t = await timeOf(() => fn(i));
    samples.push(t.ms);
    rows = t.rows;
  }
  const c: Case = {
    group,
    name,
    n,
    rows,
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    sql: [...last()],
  };
  say(`  ${group} · ${name}: p50 ${fixed(c.p50, 1)} ms, p95 ${fixed(c.p95, 1)} ms (n=${n})`);
  return c;
}

// ---------------------------------------------------------------------------------------------
// EXPLAIN summaries.

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Subplan Name"?: string;
  "Actual Total Time": number;
  "Plan Rows": number;
  "Actual Rows": number;
  "Actual Loops": number;
  "Rows Removed by Filter"?: number;
  Plans?: PlanNode[];
}

/** The plan's top levels, and where its time goes: the nodes with the most time of their own. */
function summarizePlan(plan: PlanNode, totalMs: number): Omit<Plan, "ms"> {
  const flat: { node: PlanNode; self: number; depth: number; sub: string }[] = [];
  const walk = (n: PlanNode, depth: number, sub: string) => {
    const total = n["Actual Total Time"] * n["Actual Loops"];
    const kids = (n.Plans ?? []).reduce(
      (s, k) => s + k["Actual Total Time"] * k["Actual Loops"],
      0,
    );
    flat.push({ node: n, self: Math.max(0, total - kids), depth, sub });
    for (const k of n.Plans ?? []) walk(k, depth + 1, k["Subplan Name"] ?? sub);
  };
  walk(plan, 0, "");
  const label = (n: PlanNode) =>
    n["Node Type"] + (n["Index Name"] ? ` ${n["Index Name"]}` : "") +
    (!n["Index Name"] && n["Relation Name"] ? ` ${n["Relation Name"]}` : "");
  const shape = flat.filter((f) => f.depth <= 3 && !f.sub).map((f) => label(f.node)).join(" → ");
  const hot = flat
    .filter((f) => f.self > 0.05 * totalMs)
    .sort((a, b) => b.self - a.self)
    .slice(0, 3)
    .map((f) => {
      const n = f.node;
      const loops = n["Actual Loops"];
      const removed = n["Rows Removed by Filter"]
        ? `, ${fixed(n["Rows Removed by Filter"] * loops)} removed by filter`
        : "";
      return `${label(n)}${f.sub ? ` (${f.sub})` : ""}: ${fixed(f.self, 1)} ms, ${
        fixed(loops)
      } loop(s), ${fixed(n["Actual Rows"] * loops)} rows (est. ${
        fixed(n["Plan Rows"] * loops)
      })${removed}`;
    })
    .join("; ");
  const walk_ = flat.find((f) => f.node["Index Name"] === "messages_received" && !f.sub);
  const uses = [
    ...new Set(
      flat.map((f) => f.node)
        .filter((n) => /Scan/.test(n["Node Type"]) && (n["Index Name"] || n["Relation Name"]))
        .filter((n) => n["Relation Name"] !== "accounts" && n["Index Name"] !== "accounts_pkey")
        .map(label),
    ),
  ];
  return { shape, hot: hot || "—", walkEstimate: walk_ ? walk_.node["Plan Rows"] : null, uses };
}

async function explain(q: Queryable, sql: Statement): Promise<Plan> {
  const [row] = await q.query<Record<string, unknown>>(
    `EXPLAIN (ANALYZE, FORMAT JSON) ${sql.text}`,
    sql.params,
  );
  const json = row["QUERY PLAN"];
  const doc = (typeof json === "string" ? JSON.parse(json) : json) as Array<
    { Plan: PlanNode; "Execution Time": number }
  >;
  const ms = doc[0]["Execution Time"];
  return { ...summarizePlan(doc[0].Plan, ms), ms };
}

// ---------------------------------------------------------------------------------------------
// The cases.

/** The listing's own SELECT, paged by OFFSET instead of the keyset: for comparison only. */
const OFFSET_SQL = `SELECT m.id, m.account_id, a.name AS account_name, m.mailbox, m.received_at,
       (extract(epoch FROM m.received_at) * 1000000)::bigint AS micros,
       m.from_address, m.from_name, m.subject, m.kind, m.confidence, m.original_from_address,
       m.parse_status, d.outcome, d.rule_name, d.reason,
       (SELECT o.status FROM outbox o WHERE o.message_id = m.id ORDER BY o.id DESC LIMIT 1)
         AS outbox_status
     FROM messages m
     JOIN accounts a ON a.id = m.account_id
     LEFT JOIN decisions d ON d.message_id = m.id
     ORDER BY m.received_at DESC, m.id DESC
     LIMIT $1 OFFSET $2`;

const DEPTHS = [1_000, 10_000, 100_000, 500_000].filter((d) => d < COUNT - PAGE);

interface Ctx {
  conn: Queryable;
  accountId: number;
  newest: Date;
  /** How many messages each search matches, counted once. */
  matches: Map<string, number>;
}

/** The cursor of the row just above `depth`: the keyset page after it starts at row `depth`. */
async function cursorAt(q: Queryable, depth: number): Promise<MessageCursor> {
  const [r] = await q.query<{ id: number; micros: number }>(
    `SELECT id, (extract(epoch FROM received_at) * 1000000)::bigint AS micros
     FROM messages ORDER BY received_at DESC, id DESC OFFSET $1 LIMIT 1`,
    [depth - 1],
  );
  return { micros: r.micros, id: r.id };
}

/** Every case, then one EXPLAIN ANALYZE of each. */
async function suite(ctx: Ctx): Promise<{ cases: Case[]; depth: DepthRow[] }> {
  const { conn, accountId } = ctx;
  const rec = recorder(conn);
  const cases: Case[] = [];
  const depth: DepthRow[] = [];
  const list = (f: MessageFilters, cursor: MessageCursor | null) => {
    rec.mark();
    return listMessages(rec.q, f, cursor, PAGE);
  };
  const run = async (
    group: string,
    name: string,
    f: MessageFilters,
    cursor: MessageCursor | null = null,
  ) => {
    const c = await measure(group, name, async () => (await list(f, cursor)).rows.length, rec.last);
    cases.push(c);
    return c;
  };
  const matching = async (q: string) => {
    if (!ctx.matches.has(q)) {
      const [m] = await conn.query<{ n: number }>(
        `SELECT count(*) AS n FROM message_search s WHERE s.search @@
           (websearch_to_tsquery('portuguese', $1) || websearch_to_tsquery('english', $1))`,
        [q],
      );
      ctx.matches.set(q, m.n);
    }
    const n = ctx.matches.get(q)!;
    return `${fixed(n)} matching message${n === 1 ? "" : "s"}`;
  };

  await run("page", "first page, no filter", {});

  {
    // Following the cursor: each timed run reads the next page (2, 3, …).
    const second = (await list({}, null)).next;
    let cursor = second;
    const c = await measure(
      "page",
      "next page, following the cursor (pages 2, 3, …)",
      async (i) => {
        const page = await list({}, i < 0 ? second : cursor);
        if (i >= 0) cursor = page.next;
        return page.rows.length;
      },
      rec.last,
    );
    cases.push(c);
  }

  // Depth: the keyset page whose cursor is the row just above depth d, against OFFSET d.
  for (const d of DEPTHS) {
    const keyset = await run(
      "depth",
      `keyset page at depth ${fixed(d)}`,
      {},
      await cursorAt(conn, d),
    );
    const sql = { text: OFFSET_SQL, params: [PAGE + 1, d] };
    const offset = await measure(
      "depth",
      `LIMIT/OFFSET page at depth ${fixed(d)}`,
      async () => (await conn.query(sql.text, sql.params)).length,
      () => [sql],
    );
    cases.push(offset);
    depth.push({ depth: d, keyset, offset });
  }

  // Filters.
  const sixMonths = new Date(ctx.newest.getTime() - 182 * 86400_000);
  const range = { since: sixMonths, until: new Date(sixMonths.getTime() + 30 * 86400_000) };
  await run("filter", "account (the only one: every message)", { accountId });
  await run("filter", "kind = forwarded", { kind: "forwarded" });
  await run("filter", "kind = direct", { kind: "direct" });
  await run("filter", "date range (30 days, 6 months back)", range);
  await run("filter", "date range + kind = forwarded", { ...range, kind: "forwarded" });
  await run("filter", "reply status = reply", { reply: "reply" });
  await run("filter", "reply status = undecided", { reply: "undecided" });
  await run("filter", "unparsed", { unparsed: true });

  // Search: each query alone, with filters, and past its first page.
  const forwarded = { ...range, kind: "forwarded" as const };
  const searches: { name: string; q: string; extra?: MessageFilters }[] = [
    { name: `common word "pedido"`, q: "pedido" },
    { name: `Portuguese word with accents "reunião"`, q: "reunião" },
    { name: `rare word "${RARE}"`, q: RARE },
    { name: `word found nowhere "xilofone"`, q: "xilofone" },
    { name: `word only in the oldest mail "${OLD_TOPIC}"`, q: OLD_TOPIC },
    { name: `two words "nota fiscal"`, q: "nota fiscal" },
    { name: `phrase "\"nota fiscal\""`, q: '"nota fiscal"' },
    { name: `"pedido" + account`, q: "pedido", extra: { accountId } },
    { name: `"pedido" + kind = forwarded + date range`, q: "pedido", extra: forwarded },
    { name: `"reunião" + kind = forwarded + date range`, q: "reunião", extra: forwarded },
    { name: `"${RARE}" + account`, q: RARE, extra: { accountId } },
    { name: `"${RARE}" + kind = direct`, q: RARE, extra: { kind: "direct" } },
    { name: `"${RARE}" + kind = forwarded + date range`, q: RARE, extra: forwarded },
    {
      name: `phrase + kind = direct + date range`,
      q: '"nota fiscal"',
      extra: { ...range, kind: "direct" },
    },
    { name: `"${OLD_TOPIC}" + reply status = no_rule`, q: OLD_TOPIC, extra: { reply: "no_rule" } },
    { name: `"pedido" + reply status = undecided`, q: "pedido", extra: { reply: "undecided" } },
  ];
  for (const s of searches) {
    const c = await run("search", s.name, { q: s.q, ...s.extra });
    c.note = await matching(s.q);
  }
  // Past the first page: page 2 of a common word and of old matches; the pages that follow a
  // cursor through a common word (2, 3, …); for the rare word, the page after its 10th match.
  for (const q of ["pedido", '"nota fiscal"', OLD_TOPIC]) {
    const first = await list({ q }, null);
    const c = await run("search", `${q}, page 2`, { q }, first.next);
    c.note = await matching(q);
  }
  {
    const second = (await list({ q: "pedido" }, null)).next;
    let cursor = second;
    const c = await measure(
      "search",
      `"pedido", following the cursor (pages 2, 3, …)`,
      async (i) => {
        const page = await list({ q: "pedido" }, i < 0 ? second : cursor);
        if (i >= 0) cursor = page.next;
        return page.rows.length;
      },
      rec.last,
    );
    c.note = await matching("pedido");
    cases.push(c);
  }
  {
    const hits = await listMessages(conn, { q: RARE }, null, 10);
    const c = await run(
      "search",
      `"${RARE}", the page after its 10th match`,
      { q: RARE },
      hits.next,
    );
    c.note = await matching(RARE);
  }

  // The other lists and the message page at the same scale.
  const recorded = (fn: (q: Queryable) => Promise<number>) => () => {
    rec.mark();
    return fn(rec.q);
  };
  const [{ lo, hi }] = await conn.query<{ lo: number; hi: number }>(
    "SELECT min(id) AS lo, max(id) AS hi FROM messages",
  );
  cases.push(
    await measure(
      "detail",
      "message detail (another message each run)",
      recorded(async (q) => {
        const id = lo + Math.floor(Math.random() * (hi - lo + 1));
        return (await getMessageDetail(q, id)) ? 1 : 0;
      }),
      rec.last,
    ),
  );
  const [{ mid }] = await conn.query<{ mid: number }>(
    "SELECT id AS mid FROM outbox ORDER BY id OFFSET (SELECT count(*) / 2 FROM outbox) LIMIT 1",
  );
  const outbox = async (name: string, f: Parameters<typeof listOutbox>[1], before: number | null) =>
    cases.push(
      await measure(
        "outbox",
        name,
        recorded(async (q) => (await listOutbox(q, f, before, PAGE)).rows.length),
        rec.last,
      ),
    );
  await outbox("first page", {}, null);
  await outbox("page in the middle (keyset on id)", {}, mid);
  await outbox("status = failed", { status: "failed" }, null);
  await outbox("status = unknown", { status: "unknown" }, null);
  await outbox("status = pending (none)", { status: "pending" }, null);
  await outbox("account + status = sent, middle", { accountId, status: "sent" }, mid);

  const audit = async (name: string, f: AuditFilters, cursor: AuditCursor | null) =>
    cases.push(
      await measure(
        "audit",
        name,
        recorded(async (q) => (await listAudit(q, f, cursor, PAGE)).rows.length),
        rec.last,
      ),
    );
  const [deep] = await conn.query<{ micros: number; id: number }>(
    `SELECT id, (extract(epoch FROM at) * 1000000)::bigint AS micros FROM audit_events
     ORDER BY at DESC, id DESC OFFSET 500000 LIMIT 1`,
  );
  await audit("first page", {}, null);
  if (deep) await audit("keyset page at depth 500,000", {}, { micros: deep.micros, id: deep.id });
  await audit("event = reply_suppressed", { event: "reply_suppressed" }, null);
  await audit("account", { accountId }, null);
  await audit("one message's events", { messageId: lo + Math.floor((hi - lo) / 3) }, null);
  await audit("date range (30 days, 6 months back)", range, null);

  say("  EXPLAIN ANALYZE…");
  for (const c of cases) {
    c.plans = [];
    for (const sql of c.sql) c.plans.push(await explain(conn, sql));
  }
  return { cases, depth };
}

// ---------------------------------------------------------------------------------------------

/**
 * The audit log as the pipeline writes it: "collected" for every message, "classified" for every
 * parsed one, "rule_matched" or "reply_suppressed" for the decisions that answered or held back.
 */
async function fillAudit(db: Db): Promise<void> {
  const [{ lo, hi }] = await db.query<{ lo: number; hi: number }>(
    "SELECT min(id) AS lo, max(id) AS hi FROM messages",
  );
  say("audit events…");
  for (let a = lo; a <= hi; a += 4 * CHUNK) {
    const b = Math.min(hi, a + 4 * CHUNK - 1);
    await db.query(
      `INSERT INTO audit_events (at, event, account_id, message_id, detail)
       SELECT at, event, account_id, message_id, detail FROM (
         SELECT collected_at AS at, 'collected' AS event, account_id, id AS message_id,
           jsonb_build_object('mailbox', mailbox, 'uid', uid, 'size', size) AS detail
         FROM messages WHERE id BETWEEN ${a} AND ${b}
         UNION ALL
         SELECT collected_at + interval '1 second', 'classified', account_id, id,
           jsonb_build_object('kind', kind, 'confidence', confidence)
         FROM messages WHERE id BETWEEN ${a} AND ${b} AND parse_status = 'parsed'
         UNION ALL
         SELECT d.decided_at,
           CASE d.outcome WHEN 'reply' THEN 'rule_matched' ELSE 'reply_suppressed' END,
           m.account_id, m.id, jsonb_build_object('rule', d.rule_name, 'reason', d.reason)
         FROM decisions d JOIN messages m ON m.id = d.message_id
         WHERE d.message_id BETWEEN ${a} AND ${b} AND d.outcome IN ('reply', 'suppressed')) e
       ORDER BY at`,
    );
  }
  await db.exec("VACUUM (ANALYZE) audit_events");
}

/** Fills a migrated, empty database with COUNT messages, their decisions and outbox rows. */
async function load(db: Db): Promise<{ accountId: number; seconds: [number, number, number] }> {
  const yearAgo = new Date(Date.now() - 365 * 86400_000);
  const accountId = await createAccount(db, {
    name: "atendimento",
    address: "atendimento@carteiro.example",
    displayName: "Atendimento",
    enabled: true,
    imapHost: "imap.carteiro.example",
    imapPort: 993,
    imapTls: "tls",
    imapUser: "atendimento@carteiro.example",
    mailboxes: ["INBOX"],
    smtpHost: "smtp.carteiro.example",
    smtpPort: 465,
    smtpTls: "tls",
    smtpUser: "atendimento@carteiro.example",
    copyToSent: true,
    imapPassEnc: null,
    smtpPassEnc: null,
  }, new Date(yearAgo.getTime() - 86400_000));
  await db.exec(HELPERS);

  // Secondary indexes are built after the load (much faster than row by row), from their own
  // definitions as the migrations wrote them.
  const indexes = await db.query<{ name: string; def: string }>(
    `SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i
     JOIN pg_class c ON c.relname = i.indexname
     JOIN pg_index x ON x.indexrelid = c.oid
     WHERE i.schemaname = 'public' AND i.tablename IN ('messages', 'message_search')
       AND NOT x.indisunique AND NOT x.indisprimary`,
  );
  for (const ix of indexes) await db.exec(`DROP INDEX ${ix.name}`);

  say(`filling ${fixed(COUNT)} messages (${indexes.length} indexes dropped for the load)…`);
  const t0 = performance.now();
  const chunks: [number, number][] = [];
  for (let lo = 1; lo <= COUNT; lo += CHUNK) chunks.push([lo, Math.min(COUNT, lo + CHUNK - 1)]);
  let done = 0;
  const worker = async () => {
    for (let c = chunks.shift(); c; c = chunks.shift()) {
      const [lo, hi] = c;
      await db.transaction(async (tx) => {
        await tx.query("SET LOCAL work_mem = '256MB'");
        await tx.query(fillSql(lo, hi, accountId, yearAgo.toISOString()));
      });
      done += hi - lo + 1;
      say(`  ${fixed(done)} / ${fixed(COUNT)} (${fixed((performance.now() - t0) / 1000)} s)`);
    }
  };
  await Promise.all([worker(), worker()]);
  const fillS = (performance.now() - t0) / 1000;

  // The GIN index builds in one session while the other writes decisions and outbox rows,
  // then builds the B-trees.
  say("indexes, decisions and outbox…");
  const t1 = performance.now();
  const build = async (list: { def: string }[]) => {
    for (const ix of list) {
      await db.transaction(async (tx) => {
        await tx.query("SET LOCAL maintenance_work_mem = '1GB'");
        await tx.query(ix.def);
      });
    }
  };
  await Promise.all([
    build(indexes.filter((ix) => /USING gin/i.test(ix.def))),
    (async () => {
      const [{ lo, hi }] = await db.query<{ lo: number; hi: number }>(
        "SELECT min(id) AS lo, max(id) AS hi FROM messages",
      );
      for (let a = lo; a <= hi; a += 4 * CHUNK) {
        for (const s of decisionsSql(a, Math.min(hi, a + 4 * CHUNK - 1))) await db.query(s);
      }
      await build(indexes.filter((ix) => !/USING gin/i.test(ix.def)));
    })(),
  ]);
  const indexS = (performance.now() - t1) / 1000;

  say("VACUUM ANALYZE…");
  const t3 = performance.now();
  // undecided_messages too: its triggers add every message and remove it at its decision, so
  // the load leaves a dead row per decided message, which autovacuum clears on a server that runs
  // it (one may not) and which an index-only walk of it would otherwise visit.
  await db.exec(
    "VACUUM (ANALYZE) messages, message_search, decisions, outbox, accounts, undecided_messages",
  );
  const vacuumS = (performance.now() - t3) / 1000;
  return { accountId, seconds: [fillS, indexS, vacuumS] };
}

/** The p95 target of a case in ms (issue 17), or null for cases kept for comparison. */
function targetOf(c: Case): number | null {
  return c.group === "depth" && c.name.startsWith("LIMIT/OFFSET") ? null : 50;
}

/**
 * What a statement of a case is: the steps of listMessages (src/store/message_list.ts) — the
 * probe of the newest rows, a further window, the GIN read of older matches or the date index
 * from the last row tested — or the detail's three reads.
 */
function statementName(c: Case, i: number): string {
  const text = c.sql[i]?.text ?? "";
  if (c.group === "detail") return ["message", "decision", "outbox"][i] ?? "";
  if (c.sql.length === 1 && c.group !== "search") return "";
  if (/FROM message_search s WHERE s\.search/.test(text)) return "GIN";
  if (/edge AS MATERIALIZED/.test(text)) return "date index";
  return i === 0 ? "probe" : "window";
}

/** The plan in a few words: the steps and the index each walks or reads. */
function planName(c: Case): string {
  const plans = c.plans ?? [];
  const main = (p: Plan) =>
    p.uses.find((u) => /message_search_search/.test(u)) ??
      p.uses.find((u) =>
        /messages_(account_)?received|audit_events_|outbox_listing|outbox_status/.test(u)
      ) ??
      p.uses[0] ?? "";
  if (c.group === "detail") return [...new Set(plans.flatMap((p) => p.uses))].join(", ");
  const steps = plans.map((p, i) => {
    const name = statementName(c, i);
    return name ? `${name}: ${main(p)}` : main(p);
  });
  return steps.join(" → ");
}

async function main() {
  const started = performance.now();
  const target = REUSE === null ? await freshPostgresDatabase() : existingDatabase(REUSE);
  const name = new URL(target.url).pathname.slice(1);
  say(`database: ${target.url}`);
  const db = openPostgres({ url: target.url, max: 2 });
  try {
    await migrate(db, await readMigrations());
    let accountId: number;
    let seconds: [number, number, number] | null = null;
    if (REUSE === null) {
      ({ accountId, seconds } = await load(db));
    } else {
      [{ id: accountId }] = await db.query<{ id: number }>(
        "SELECT id FROM accounts WHERE name = 'atendimento'",
      );
      await db.exec("ANALYZE messages, decisions, outbox, accounts");
    }
    const [{ audit }] = await db.query<{ audit: boolean }>(
      "SELECT EXISTS (SELECT FROM audit_events) AS audit",
    );
    if (!audit) await fillAudit(db);
    const [fillS, indexS, vacuumS] = seconds ?? [NaN, NaN, NaN];
    const loadS = (performance.now() - started) / 1000;
    if (ARGS_LOAD_ONLY) {
      say(`loaded in ${fixed(loadS)} s; measure with --reuse ${name}`);
      return;
    }

    const [sizes] = await db.query<Record<string, string | number | Date>>(
      `SELECT count(*) AS messages,
         count(*) FILTER (WHERE kind = 'forwarded') AS forwarded,
         count(*) FILTER (WHERE kind = 'direct') AS direct,
         count(*) FILTER (WHERE parse_status <> 'parsed') AS unparsed,
         (SELECT count(*) FROM decisions) AS decisions,
         (SELECT count(*) FROM outbox) AS outbox,
         (SELECT count(*) FROM audit_events) AS audit,
         pg_size_pretty(pg_total_relation_size('messages')) AS total,
         pg_size_pretty(pg_relation_size('messages')) AS heap,
         pg_size_pretty(pg_relation_size('message_search')) AS search_heap,
         pg_size_pretty(pg_total_relation_size('message_search')) AS search_total,
         pg_size_pretty(pg_relation_size('message_search_search')) AS search_index,
         (SELECT count(*) FROM message_search)
           / greatest(pg_relation_size('message_search') / 8192, 1) AS search_per_page,
         count(*) / greatest(pg_relation_size('messages') / 8192, 1) AS messages_per_page,
         round(avg(size)) AS raw_avg,
         round(avg(length(text_body))) AS text_avg,
         min(received_at) AS oldest, max(received_at) AS newest,
         version() AS version, current_setting('shared_buffers') AS shared_buffers
       FROM messages`,
    );
    say(`loaded in ${fixed(loadS)} s: ${sizes.total} (${fixed(Number(sizes.outbox))} outbox rows)`);

    // ---- measuring, on one connection
    const conn = openPostgres({ url: target.url, max: 1 });
    const ctx: Ctx = { conn, accountId, newest: sizes.newest as Date, matches: new Map() };
    say("measuring…");
    const all = await suite(ctx);
    await conn.close();

    // ---- the report
    const m = await machine();
    const totalS = (performance.now() - started) / 1000;
    const header = ["group", "case", "p50 ms", "p95 ms", "target", "runs", "rows", "plan", "note"];
    const casesTable = (list: Case[]) =>
      table(
        header,
        list.map((c) => [
          c.group,
          c.name,
          fixed(c.p50, 1),
          fixed(c.p95, 1),
          targetOf(c) === null ? "" : c.p95 <= targetOf(c)! ? "≤ 50 ✓" : "≤ 50 **missed**",
          c.n,
          c.rows,
          planName(c),
          c.note ?? "",
        ]),
      );
    const explainTable = (list: Case[]) =>
      table(
        ["case", "statement", "ms", "plan (top levels)", "where the time goes (own time)"],
        list.flatMap((c) =>
          (c.plans ?? []).map((p, i) => [
            i === 0 ? `${c.group} · ${c.name}` : "",
            statementName(c, i),
            fixed(p.ms, 1),
            p.shape,
            p.hot,
          ])
        ),
      );
    const depthTable = table(
      ["depth", "keyset p50", "keyset p95", "OFFSET p50", "OFFSET p95", "OFFSET ÷ keyset (p50)"],
      all.depth.map((d) => [
        fixed(d.depth),
        fixed(d.keyset.p50, 1),
        fixed(d.keyset.p95, 1),
        fixed(d.offset.p50, 1),
        fixed(d.offset.p95, 1),
        `${fixed(d.offset.p50 / d.keyset.p50)}×`,
      ]),
    );
    const day = (x: unknown) => new Date(x as string).toISOString().slice(0, 10);
    const get = (name: string) => all.cases.find((c) => c.name === name)!;
    const deepest = all.depth[all.depth.length - 1];
    const outboxRows = Number(sizes.outbox);
    const targeted = all.cases.filter((c) => targetOf(c) !== null);
    const missed = targeted.filter((c) => c.p95 > targetOf(c)!);

    const report = `# Message list benchmark (admin)

\`deno run -A bench/message_list.ts${COUNT === 1_000_000 ? "" : ` ${COUNT}`}\` — ${
      new Date().toISOString().slice(0, 16).replace("T", " ")
    } UTC

- Machine: ${m.cpu}, ${m.cores} cores, ${m.memory} RAM; load average (1, 5, 15 min) at the end
  of the run: ${loadAverage()}.
- ${
      String(sizes.version).split(" on ")[0]
    }, server defaults (shared_buffers ${sizes.shared_buffers}),
  same machine, loopback.
- Data: ${fixed(COUNT)} messages in one account — ${fixed(Number(sizes.forwarded))} forwarded, ${
      fixed(Number(sizes.direct))
    } direct, ${fixed(Number(sizes.unparsed))} unparsed (failed or pending); ${
      fixed(Number(sizes.decisions))
    } decisions, ${fixed(outboxRows)} outbox rows (the replies), ${
      fixed(Number(sizes.audit))
    } audit events. Received over one year (${day(sizes.oldest)} … ${
      day(sizes.newest)
    }); 60 % pt-BR, 40 % English; text ${sizes.text_avg} characters and raw
  source ${sizes.raw_avg} bytes on average. \`messages\` is ${sizes.total} in all (heap ${sizes.heap});
  \`message_search\` ${sizes.search_total} (heap ${sizes.search_heap}; GIN
  \`message_search_search\` ${sizes.search_index}). \`received_at\` is the generated column of
  migrations/0003_admin.sql and the vectors are written by the triggers of
  migrations/0028_message_search.sql, both computed by PostgreSQL on insert.
- Load: ${
      seconds
        ? `${fixed(fillS)} s messages (\`INSERT … SELECT … generate_series\`, 2 sessions), ${
          fixed(indexS)
        } s indexes with decisions and outbox, ${fixed(vacuumS)} s VACUUM ANALYZE.`
        : `a database loaded by an earlier run (\`--keep\`, then \`--reuse\`), migrated and analyzed.`
    } Whole run ${fixed(totalS / 60, 1)} min.
- Every list case calls the store's own function (\`listMessages\`, \`listOutbox\`, \`listAudit\`,
  \`getMessageDetail\`; page size ${PAGE}, as the pages and the API use by default) through
  postgres.js on one connection, so statements are prepared and, after five runs, may run a generic
  plan — as in the service. The OFFSET rows run the same SELECT written with \`LIMIT/OFFSET\`, for
  comparison only. Time is from the call to the mapped rows. One to three warm-up runs, then 50
  timed runs (30 when a run takes over 100 ms, 10 over 3 s). The data is hot (shared buffers or
  the OS page cache); a cold cache adds disk reads to every figure.
- Target (issue 17): p95 ≤ 50 ms for every search, filter, detail, outbox and audit case. ${
      missed.length === 0
        ? `All ${targeted.length} met it.`
        : `**Missed by ${missed.length} of ${targeted.length}:** ${
          missed.map((c) => `${c.group} · ${c.name} (p95 ${fixed(c.p95, 1)} ms)`).join("; ")
        }.`
    }

## Keyset vs OFFSET

${depthTable}

## All cases

A search runs one statement when the newest ${SEARCH_PROBE_ROWS} rows that pass its other filters
fill the page ("probe"), else a second one that reads every older match from the full-text index
and orders only those ("probe → GIN"); see docs/scaling.md.

${casesTable(all.cases)}

## EXPLAIN ANALYZE, one run of each case (each statement of its last timed run)

EXPLAIN runs the statement with its values written in, so the planner makes a custom plan for
them; the timed runs may use postgres.js's generic plan. The search's steps are written so that
both are the same walk (an inner \`LIMIT\`) or the same GIN read (a subquery of
\`message_search\` holding the text condition alone, behind \`OFFSET 0\`; its vectors have no
statistics, so every word is planned as a rare one).

${explainTable(all.cases)}

## Reading the numbers

- **Keyset paging stays flat with depth; OFFSET grows linearly with it** (${
      fixed(deepest?.offset.p50 ?? NaN)
    } ms at depth ${fixed(deepest?.depth ?? 0)} against ${
      fixed(deepest?.keyset.p50 ?? NaN, 1)
    } ms for the keyset page).
- **Search.** A common word, a phrase and a rare word each take a few milliseconds, alone, with
  filters and past the first page: the newest ${SEARCH_PROBE_ROWS} rows that pass the filters on the
  message are tested first (an inner \`LIMIT\` bounds that walk; each row's vector is read by its
  key); a common word fills the page
  there ("pedido": ${fixed(get(`common word "pedido"`).p50, 1)} ms); a phrase or a word that is
  rarer among recent mail gets one more window sized by the density seen; a word with no match in
  recent mail goes to the GIN index, which is cheap when it has few matches ("${RARE}": ${
      fixed(get(`rare word "${RARE}"`).p50, 1)
    } ms, a word found nowhere ${fixed(get(`word found nowhere "xilofone"`).p50, 1)} ms). The
  same searches took 4.4 ms ("pedido"), 5.8 s ("${RARE}") and 5.6 s ("${OLD_TOPIC}") before: the
  planner walked the date index and tested every row.
- **A word frequent only in old mail.** "${OLD_TOPIC}" (${
      fixed(ctx.matches.get(OLD_TOPIC) ?? NaN)
    } matches, all in the oldest tenth) took ${
      fixed(get(`word only in the oldest mail "${OLD_TOPIC}"`).p50, 1)
    } ms (${
      fixed(get(`"${OLD_TOPIC}" + reply status = no_rule`).p50, 1)
    } ms with a reply status): the GIN index gives no order, so every match is read before the
  newest ${PAGE} are known. It reads them from \`message_search\` (migrations/0028_message_search.sql),
  whose rows hold only what a search filters and orders on, with the vector out of line: ${sizes.search_per_page} rows a page (${sizes.search_heap} for the whole table) where \`messages\` (raw source, bodies,
  headers) holds ${sizes.messages_per_page}. Without the migration's \`pad\` column, the vectors
  of these short messages (1.2 KB on average) stayed in their rows, since PostgreSQL toasts a row
  only past ~2 KB: 6 rows a page and 28–46 ms for this search (7 December). The same search took 100 ms (and 106 ms with a reply status)
  when the vectors were a column of \`messages\`: one heap page read per match, ~18,000 pages.
  The vectors have no statistics, so that read is planned by the GIN index for every word (see
  docs/scaling.md for a common word that reaches it).
- **Reply status "undecided"** (${fixed(get("reply status = undecided").p50, 1)} ms alone, ${
      fixed(get(`"pedido" + reply status = undecided`).p50, 1)
    } ms with "pedido"; 255 ms and 7.9 s before): the messages without a decision are kept in
  their own table (\`undecided_messages\`, by triggers), walked in the list's order with the other
  filters and the text tested on each; before, a common word with "undecided" read every match of
  the word (more than half the table), since no recent undecided message matches.
- Message detail (three primary-key reads), the outbox list (keyset on id, with a status or
  account) and the audit list (keyset on \`(at, id)\`, ${
      fixed(Number(sizes.audit))
    } events) stay within a few milliseconds at this scale.
`;
    await Deno.writeTextFile(RESULTS, report);
    console.log(casesTable(all.cases));
    console.log();
    console.log(depthTable);
    say(`wrote ${RESULTS} (${fixed(totalS / 60, 1)} min)`);
  } finally {
    await db.close();
    if (KEEP) say(`kept the database: --reuse ${name}`);
    else await target.drop();
  }
}

/** A database kept by an earlier run, by its name. */
function existingDatabase(name: string): { url: string; drop: () => Promise<void> } {
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => Promise.resolve() };
}

await main();
