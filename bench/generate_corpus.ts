/**
 * A corpus of realistic messages from a fixed seed, for the benchmarks: the same seed and count
 * always give the same bytes. Mix: multipart/alternative text + HTML; ~20 % with one or two
 * attachments of 10–200 KB (incompressible "photos", semi-compressible "PDFs"); pt-BR subjects,
 * RFC 2047 encoded (B and Q) when they are not ASCII; ~30 % forwarded, in Gmail's and Outlook's
 * styles (inline, in both parts) and a few as message/rfc822 attachments. The mean size comes out
 * near 33 KB, like the mailboxes PERF-NOTES measured.
 *
 *   deno run -A bench/generate_corpus.ts --count 1000 --out DIR   writes DIR/new/000000001.eml...
 */
import { Buffer } from "node:buffer";

/** sfc32: a small, fast PRNG with a 128-bit state; good enough for test data, fully seeded. */
export function prng(seed: number): () => number {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = () => {
    a |= 0, b |= 0, c |= 0, d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

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
  "Conceição",
  "Sebastião",
  "Letícia",
  "Cláudio",
  "Patrícia",
  "Gonçalo",
];
const LAST = [
  "Silva",
  "Souza",
  "Araújo",
  "Conceição",
  "Gonçalves",
  "Simões",
  "Brandão",
  "Magalhães",
  "Pereira",
  "Assunção",
  "Falcão",
  "Lima",
];
const DOMAINS = [
  "cliente.example.test",
  "gmail.example.test",
  "outlook.example.test",
  "empresa.example.test",
  "uol.example.test",
];
const TOPICS = [
  "Pedido nº {n} não chegou",
  "Dúvida sobre a fatura de março",
  "Solicitação de orçamento — {n} unidades",
  "Reclamação: atendimento por telefone",
  "Troca de produto com defeito",
  "Confirmação de reunião às {h}h",
  "Nota fiscal do pedido {n}",
  "Atualização cadastral",
  "Cancelamento da assinatura",
  "Informações sobre prazo de entrega",
  "Re: Proposta comercial {n}",
  "Order {n} shipping question",
];
const SENTENCES = [
  "Bom dia, gostaria de saber a situação do meu pedido.",
  "Fiz a compra na semana passada e até agora não recebi nenhuma atualização.",
  "Segue em anexo o comprovante de pagamento, conforme solicitado.",
  "Poderiam verificar se o endereço de entrega está correto?",
  "Agradeço desde já a atenção e aguardo retorno.",
  "A nota fiscal veio com o CNPJ errado, preciso de uma correção.",
  "O produto chegou com a embalagem danificada e não liga.",
  "Vocês têm previsão de reposição do estoque?",
  "Conforme conversamos por telefone, envio os dados para o orçamento.",
  "Já é a terceira vez que entro em contato sobre o mesmo assunto.",
  "Por favor, confirmem o recebimento desta mensagem.",
  "Estou à disposição para qualquer esclarecimento.",
  "Hello, could you please confirm the delivery date for this order?",
  "Atenciosamente, e obrigado pela paciência.",
];

export interface CorpusOptions {
  count: number;
  seed?: number;
  /** The address every message is sent to. */
  to?: string;
  /** Share of forwarded messages (default 0.3) and of messages with attachments (0.18). */
  forwardedShare?: number;
  attachmentShare?: number;
}

/** The corpus, one raw message (CRLF line ends) at a time. */
export function* generateCorpus(options: CorpusOptions): Generator<Uint8Array> {
  const rnd = prng(options.seed ?? 20261129);
  const to = options.to ?? "atendimento@example.test";
  const enc = new TextEncoder();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const base = Date.UTC(2026, 9, 1);
  for (let i = 0; i < options.count; i++) {
    const person = () => {
      const first = pick(FIRST);
      const last = pick(LAST);
      const local = `${ascii(first)}.${ascii(last)}${int(1, 999)}`.toLowerCase();
      return { name: `${first} ${last}`, address: `${local}@${pick(DOMAINS)}` };
    };
    const from = person();
    const subject = pick(TOPICS).replace("{n}", String(int(1000, 99999))).replace(
      "{h}",
      String(int(8, 18)),
    );
    const date = new Date(base + i * 37_000 + int(0, 30_000));
    const paragraphs = Array.from(
      { length: int(1, 6) },
      () => Array.from({ length: int(2, 6) }, () => pick(SENTENCES)).join(" "),
    );
    const roll = rnd();
    const forwarded = roll < (options.forwardedShare ?? 0.3);
    const style = forwarded ? (rnd() < 0.45 ? "gmail" : rnd() < 0.85 ? "outlook" : "attached") : "";
    const original = forwarded ? person() : null;
    const originalDate = new Date(date.getTime() - int(3_600_000, 5 * 86_400_000));
    const attachments = rnd() < (options.attachmentShare ?? 0.18)
      ? Array.from({ length: rnd() < 0.8 ? 1 : 2 }, () => attachment(rnd, int))
      : [];

    let text = paragraphs.join("\r\n\r\n");
    let html = paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join("\r\n");
    let subjectLine = subject;
    let attachedMessage: string | null = null;
    if (original) {
      subjectLine = (style === "outlook" ? "ENC: " : "Fwd: ") + subject;
      const note = pick([
        "Podem ver isso, por favor?",
        "Segue abaixo, favor responder ao cliente.",
        "FYI",
        "",
      ]);
      const quoted = Array.from({ length: int(1, 3) }, () => pick(SENTENCES)).join(" ");
      if (style === "gmail") {
        const header =
          `---------- Forwarded message ---------\r\nFrom: ${original.name} <${original.address}>\r\n` +
          `Date: ${ptDate(originalDate)}\r\nSubject: ${subject}\r\nTo: <${from.address}>\r\n`;
        text = `${note}\r\n\r\n${header}\r\n${quoted}\r\n\r\n${text}`;
        html = `<div dir="ltr">${escapeHtml(note)}<br><br><div class="gmail_quote">` +
          `<div dir="ltr" class="gmail_attr">---------- Forwarded message ---------<br>` +
          `From: <strong class="gmail_sendername" dir="auto">${
            escapeHtml(original.name)
          }</strong> <span dir="auto">&lt;<a href="mailto:${original.address}">${original.address}</a>&gt;</span><br>` +
          `Date: ${ptDate(originalDate)}<br>Subject: ${
            escapeHtml(subject)
          }<br>To: &lt;${from.address}&gt;<br></div>` +
          `<br><br>${escapeHtml(quoted)}${html}</div></div>`;
      } else if (style === "outlook") {
        const header =
          `________________________________\r\nDe: ${original.name} <${original.address}>\r\n` +
          `Enviado: ${ptDate(originalDate)}\r\nPara: ${from.name} <${from.address}>\r\n` +
          `Assunto: ${subject}\r\n`;
        text = `${note}\r\n\r\n${header}\r\n${quoted}\r\n\r\n${text}`;
        html = `<div>${escapeHtml(note)}</div><hr style="display:inline-block;width:98%">` +
          `<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif"><b>De:</b> ${
            escapeHtml(original.name)
          } &lt;${original.address}&gt;<br><b>Enviado:</b> ${ptDate(originalDate)}<br>` +
          `<b>Para:</b> ${escapeHtml(from.name)} &lt;${from.address}&gt;<br><b>Assunto:</b> ${
            escapeHtml(subject)
          }</font><div>&nbsp;</div></div><div>${escapeHtml(quoted)}${html}</div>`;
      } else {
        text = note || "Encaminhado como anexo.";
        html = `<p>${escapeHtml(text)}</p>`;
        attachedMessage = `From: ${encodeWord(original.name, rnd)} <${original.address}>\r\n` +
          `To: ${from.address}\r\nSubject: ${encodeWord(subject, rnd)}\r\n` +
          `Date: ${originalDate.toUTCString().replace("GMT", "+0000")}\r\n` +
          `Message-ID: <orig-${i}@${original.address.split("@")[1]}>\r\nMIME-Version: 1.0\r\n` +
          `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n` +
          `${quoted}\r\n`;
      }
    }
    const id = `<bench-${options.seed ?? 20261129}-${i}@${from.address.split("@")[1]}>`;
    const headers = [
      `Return-Path: <${from.address}>`,
      `From: ${encodeWord(from.name, rnd)} <${from.address}>`,
      `To: ${to}`,
      `Subject: ${encodeWord(subjectLine, rnd)}`,
      `Date: ${date.toUTCString().replace("GMT", "-0300")}`,
      `Message-ID: ${id}`,
      "MIME-Version: 1.0",
    ];
    if (rnd() < 0.15) headers.push(`In-Reply-To: <prev-${int(1, 1e6)}@example.test>`);
    const alt = `alt-${i}-${int(1e5, 1e6)}`;
    const alternative = `Content-Type: multipart/alternative; boundary="${alt}"\r\n\r\n` +
      `--${alt}\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n` +
      `${quotedPrintable(text)}\r\n--${alt}\r\nContent-Type: text/html; charset=UTF-8\r\n` +
      `Content-Transfer-Encoding: quoted-printable\r\n\r\n` +
      `${quotedPrintable(`<html><body>${html}</body></html>`)}\r\n--${alt}--\r\n`;
    let body: string;
    if (attachments.length === 0 && attachedMessage === null) {
      body = headers.join("\r\n") + "\r\n" + alternative;
    } else {
      const mixed = `mixed-${i}-${int(1e5, 1e6)}`;
      const parts = [alternative];
      if (attachedMessage) {
        parts.push(
          `Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="mensagem.eml"\r\n\r\n${attachedMessage}`,
        );
      }
      for (const a of attachments) {
        parts.push(
          `Content-Type: ${a.type}; name="${a.name}"\r\nContent-Disposition: attachment; filename="${a.name}"\r\n` +
            `Content-Transfer-Encoding: base64\r\n\r\n${a.base64}`,
        );
      }
      body = headers.join("\r\n") +
        `\r\nContent-Type: multipart/mixed; boundary="${mixed}"\r\n\r\n` +
        parts.map((p) => `--${mixed}\r\n${p}\r\n`).join("") + `--${mixed}--\r\n`;
    }
    yield enc.encode(body);
  }
}

function attachment(rnd: () => number, int: (lo: number, hi: number) => number) {
  const size = int(10 * 1024, 200 * 1024);
  const bytes = new Uint8Array(size);
  const photo = rnd() < 0.5;
  if (photo) {
    // Incompressible, like JPEG data.
    for (let i = 0; i < size; i += 4) {
      const v = (rnd() * 4294967296) >>> 0;
      bytes[i] = v;
      bytes[i + 1] = v >>> 8;
      bytes[i + 2] = v >>> 16;
      bytes[i + 3] = v >>> 24;
    }
    bytes.set([0xff, 0xd8, 0xff, 0xe0]);
  } else {
    // A PDF-ish mix: text objects with runs of random stream data.
    const words = new TextEncoder().encode(
      "%PDF-1.7\n1 0 obj << /Type /Page /Contents 2 0 R >> endobj stream BT /F1 12 Tf (Nota fiscal) Tj ET ",
    );
    for (let i = 0; i < size; i++) {
      bytes[i] = (i & 255) < 160 ? words[i % words.length] : (rnd() * 256) | 0;
    }
  }
  const base64 = Buffer.from(bytes).toString("base64").replace(/.{76}/g, "$&\r\n");
  const n = int(1, 9999);
  return photo
    ? { type: "image/jpeg", name: `foto_${n}.jpg`, base64 }
    : { type: "application/pdf", name: `nota_fiscal_${n}.pdf`, base64 };
}

function ascii(s: string): string {
  return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "");
}

/** RFC 2047 encoded-word for non-ASCII text, B or Q encoding chosen at random like real MUAs. */
function encodeWord(s: string, rnd: () => number): string {
  if (/^[\x20-\x7e]*$/.test(s)) return s;
  const bytes = new TextEncoder().encode(s);
  if (rnd() < 0.5) {
    // Split into encoded-words of at most 45 bytes of text each (RFC 2047 §2: 75 chars a word),
    // never inside a UTF-8 sequence.
    const words: string[] = [];
    let start = 0;
    while (start < bytes.length) {
      let end = Math.min(bytes.length, start + 45);
      while (end < bytes.length && (bytes[end] & 0xc0) === 0x80) end--;
      words.push(`=?UTF-8?B?${Buffer.from(bytes.subarray(start, end)).toString("base64")}?=`);
      start = end;
    }
    return words.join("\r\n ");
  }
  let q = "";
  for (const b of bytes) {
    if (b === 0x20) q += "_";
    else if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) {
      q += String.fromCharCode(b);
    } else q += "=" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return `=?utf-8?Q?${q}?=`;
}

/** RFC 2045 §6.7 quoted-printable, soft line breaks at 76. */
function quotedPrintable(s: string): string {
  const out: string[] = [];
  for (const line of s.split("\r\n")) {
    let cur = "";
    const bytes = new TextEncoder().encode(line);
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      const last = i === bytes.length - 1;
      const plain = (b >= 33 && b <= 126 && b !== 61) || (b === 32 && !last);
      const piece = plain
        ? String.fromCharCode(b)
        : "=" + b.toString(16).toUpperCase().padStart(2, "0");
      if (cur.length + piece.length > 75) {
        out.push(cur + "=");
        cur = "";
      }
      cur += piece;
    }
    out.push(cur);
  }
  return out.join("\r\n");
}

function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

const PT_MONTHS = [
  "jan.",
  "fev.",
  "mar.",
  "abr.",
  "mai.",
  "jun.",
  "jul.",
  "ago.",
  "set.",
  "out.",
  "nov.",
  "dez.",
];
const PT_DAYS = ["dom.", "seg.", "ter.", "qua.", "qui.", "sex.", "sáb."];

/** Gmail's pt-BR forward date: "qui., 5 de nov. de 2026 às 14:03". */
function ptDate(d: Date): string {
  const hh = String(d.getUTCHours()).padStart(2, "0");
  const mm = String(d.getUTCMinutes()).padStart(2, "0");
  return `${PT_DAYS[d.getUTCDay()]}, ${d.getUTCDate()} de ${
    PT_MONTHS[d.getUTCMonth()]
  } de ${d.getUTCFullYear()} às ${hh}:${mm}`;
}

/**
 * Writes the corpus as a Maildir's `new/` (file names in order, so Dovecot's `import` keeps it);
 * returns the message count and total bytes.
 */
export async function writeMaildir(
  dir: string,
  options: CorpusOptions,
): Promise<{ messages: number; bytes: number }> {
  for (const sub of ["cur", "new", "tmp"]) await Deno.mkdir(`${dir}/${sub}`, { recursive: true });
  let bytes = 0;
  let messages = 0;
  const pending: Promise<void>[] = [];
  for (const m of generateCorpus(options)) {
    messages++;
    bytes += m.length;
    pending.push(Deno.writeFile(`${dir}/new/${String(messages).padStart(9, "0")}.bench`, m));
    if (pending.length >= 64) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return { messages, bytes };
}

if (import.meta.main) {
  const args = Deno.args;
  const value = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const out = value("--out");
  if (!out) {
    console.error("usage: generate_corpus.ts --count N --out DIR [--seed S]");
    Deno.exit(2);
  }
  const started = performance.now();
  const r = await writeMaildir(out, {
    count: Number(value("--count") ?? 1000),
    seed: Number(value("--seed") ?? 20261129),
  });
  console.log(JSON.stringify({
    ...r,
    meanKB: Math.round(r.bytes / r.messages / 102.4) / 10,
    seconds: Math.round(performance.now() - started) / 1000,
    dir: out,
  }));
}
