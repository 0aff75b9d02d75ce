/** The catalog's pure parts: domain sentences said in Portuguese, dates in a zone and language. */
import assert from "node:assert/strict";
import { dictionary, say, SENTENCES } from "../../routes/i18n.ts";
import { fmtAgo, fmtDate, pickTimeZone } from "../../routes/viewer_time.ts";

const PT = dictionary("pt-BR", "America/Sao_Paulo");
const EN = dictionary("en", "Europe/Lisbon");

Deno.test("say: a trail line is said part by part, nested parts too; English stays English", () => {
  const why = 'kind is direct; from matches "*@cliente.test"; any: header X-Origem is present';
  assert.equal(
    say(PT, why),
    'o tipo é direta; o remetente casa com "*@cliente.test"; any: o cabeçalho X-Origem está presente',
  );
  assert.equal(say(EN, why), why);
  assert.equal(
    say(PT, "none of any holds (kind is direct, the rule wants forwarded | header X is absent)"),
    "nenhuma condição de any vale (o tipo é direta, a regra quer encaminhada | o cabeçalho X está ausente)",
  );
  assert.equal(
    say(PT, "2 replies already sent to this recipient by this rule in the last 7 days"),
    "2 respostas já enviadas a este destinatário por esta regra na janela de 7 dias",
  );
  // A sentence the catalog does not know is shown as it came (the page test names it).
  assert.equal(say(PT, "something new"), "something new");
});

Deno.test("every sentence's Portuguese uses the placeholders of its English", () => {
  const slots = (s: string) => [...s.matchAll(/\{([~%]?\w+)\}(?!\})/g)].map((m) => m[1]).sort();
  for (const [en, pt] of SENTENCES) {
    assert.deepEqual(slots(pt).filter((s) => !slots(en).includes(s)), [], `${en} → ${pt}`);
    // Only JSON.parse's own English words (V8's) are left out.
    const dropped = slots(en).filter((s) => !slots(pt).includes(s));
    assert.deepEqual(dropped, en.includes(" in JSON at position") ? ["what"] : [], `${en} → ${pt}`);
  }
});

Deno.test("dates in the viewer's zone and language; relative times by Intl", () => {
  const at = new Date("2026-12-06T13:53:00Z");
  assert.equal(fmtDate(at, PT), "06/12/2026 10:53");
  assert.equal(fmtDate(at, EN), "6 Dec 2026, 13:53");
  assert.equal(fmtDate(null, PT), "—");
  assert.equal(fmtAgo(120, PT), "há 2 minutos");
  assert.equal(fmtAgo(120, EN), "2 minutes ago");
  assert.equal(fmtAgo(7200, PT), "há 2 horas");
});

Deno.test("the zone cookie: a zone Intl knows, else the fallback", () => {
  assert.equal(pickTimeZone("America/Sao_Paulo", "UTC"), "America/Sao_Paulo");
  assert.equal(pickTimeZone("Marte/Base", "UTC"), "UTC");
  assert.equal(pickTimeZone("<script>", "UTC"), "UTC");
  assert.equal(pickTimeZone(undefined, "Europe/Lisbon"), "Europe/Lisbon");
});
