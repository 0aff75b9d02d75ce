import assert from "node:assert/strict";
import EmailForwardParser from "email-forward-parser";
import {
  libraryOriginal,
  librarySeparators,
  libraryShortcutsActive,
  librarySplit,
  requiredText,
} from "../../src/domain/forward_library.ts";

// The reference: email-forward-parser's own `read`, which the shortcuts must answer exactly as.
const reference = new EmailForwardParser();

function splitByRead(body: string) {
  const r = reference.read(body);
  return r.forwarded ? { message: r.message ?? "" } : null;
}

function originalByRead(body: string) {
  const { from, subject, date } = reference.read(body, "Fwd:").email;
  return [from.address, from.name, subject, date];
}

/** Bodies with and without each of the library's separators, in the shapes clients write. */
function bodies(): string[] {
  const out = [
    "",
    "Hello,\n\ncould you confirm the order?\n\nThanks\nAna",
    "Bom dia,\n\nsegue.\n\n---------- Forwarded message ---------\nDe: Ana Lima <ana@empresa.test>\n" +
    "Date: sex., 1 de mar. de 2024 às 10:00\nSubject: Pedido 123\nTo: <caixa@carteiro.test>\n\nOlá",
    "FYI\n\n________________________________\nFrom: Bob Stone <bob@corp.test>\nSent: Friday, " +
    "March 1, 2024 10:00 AM\nTo: Carol <carol@corp.test>\nSubject: Invoice\n\nHi",
    "See below.\n\nBegin forwarded message:\n\nFrom: Ana <ana@x.test>\nSubject: Hi\nDate: 1 March " +
    "2024\nTo: b@y.test\n\nText",
    'On Fri, 1 Mar 2024 at 10:00, "Ana Lima" <ana@empresa.test> wrote:\n> quoted\n> text',
    "Reply on top\n\nOn Fri, Mar 1, 2024 at 10:00 AM Ana <ana@x.test> wrote:\n> hi",
    "-----Original Message-----\nFrom: Dan <dan@x.test>\nSent: Friday\nTo: e@y.test\nSubject: s\n\nt",
    "> ---------- Forwarded message ---------\n> From: Quoted <q@x.test>\n> Subject: s\n>\n> body",
    // Characters the library cleans before it splits: CRLF, byte-order marks, no-break spaces.
    "Hi\r\n\r\n---------- Forwarded message ---------\r\nFrom: A <a@x.test>\r\nSubject: s\r\n\r\nb",
    "Hi\n\nBegin\u00A0forwarded message:\nFrom: A <a@x.test>\nSubject: s\n\nb",
    "Hi\n\nBegin forwarded\uFEFF message:\nFrom: A <a@x.test>\nSubject: s\n\nb",
    "Forward-looking statements: none.\nFrom: nobody\n",
  ];
  // Every separator's own words, over a header block and alone, at the top and under a note.
  for (const re of librarySeparators() ?? []) {
    const inner = /^\((.*)\)$/s.exec(re.source);
    const words = inner ? requiredText(inner[1], re.flags) : null;
    if (!words) continue;
    out.push(`Note\n\n${words}\nFrom: Ana <ana@x.test>\nSubject: Pedido\nDate: 1 Mar 2024\n\nBody`);
    out.push(`${words}:\n\nFrom: Ana <ana@x.test>\nTo: b@y.test\n\nBody`);
    out.push(`Texto ${words} no meio de uma frase.`);
  }
  return out;
}

Deno.test("the shortcuts into email-forward-parser are on for the installed release", () => {
  assert.ok(
    libraryShortcutsActive(),
    "email-forward-parser's parser is not shaped as in 1.8.3: the classifier falls back to `read` " +
      "(same answers, ~0.2 ms more CPU per message); re-read src/domain/forward_library.ts",
  );
});

Deno.test("every separator of the library has a required text that its source spells out", () => {
  const separators = librarySeparators();
  assert.ok(separators && separators.length > 50, "the separators were not found");
  for (const re of separators) {
    const inner = /^\((.*)\)$/s.exec(re.source);
    assert.ok(inner, `not one group: ${re.source}`);
    const text = requiredText(inner[1], re.flags);
    assert.ok(text && text.length >= 5, `no required text for ${re.source}`);
  }
});

Deno.test("requiredText reads literal runs and refuses what it does not follow", () => {
  assert.equal(
    requiredText("^\\s*-{5,8} Forwarded Message -{5,8}\\s*", "m"),
    "----- Forwarded Message -----",
  );
  assert.equal(requiredText("^\\s*_{32}\\s*$", "m"), "_".repeat(32));
  assert.equal(requiredText("^\\s?Dne\\s?.+napsal\\(a\\)\\s?:", "m"), "napsal(a)");
  assert.equal(requiredText("^>?\\s*Begin forwarded message\\s?:", "m"), "Begin forwarded message");
  assert.equal(requiredText("colou?r", ""), "colo");
  assert.equal(requiredText("ab+c", ""), "ab");
  assert.equal(requiredText("a|b", "m"), null);
  assert.equal(requiredText("(a)", ""), null);
  assert.equal(requiredText("wrote", "i"), null);
  assert.equal(requiredText("x\\u0041yz", ""), null);
  assert.equal(requiredText("\\s+", ""), null);
});

Deno.test("librarySplit answers as read(body) does, gate or not", () => {
  for (const body of bodies()) {
    assert.deepEqual(librarySplit(body), splitByRead(body), JSON.stringify(body));
  }
});

Deno.test("libraryOriginal answers as read(body, 'Fwd:') does", () => {
  for (const body of bodies()) {
    const o = libraryOriginal(body);
    assert.deepEqual(
      [o.address, o.name, o.subject, o.date],
      originalByRead(body),
      JSON.stringify(body),
    );
  }
});
