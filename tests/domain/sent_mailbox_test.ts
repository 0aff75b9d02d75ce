import assert from "node:assert/strict";
import { chooseSentMailbox, filesSubmittedMail } from "../../src/domain/sent_mailbox.ts";

const box = (path: string, flags: string[] = [], specialUse?: string) => ({
  path,
  flags,
  specialUse,
});

Deno.test("the mailbox marked \\Sent (RFC 6154) wins over any name", () => {
  assert.equal(
    chooseSentMailbox([box("INBOX"), box("Sent"), box("Enviadas pelo time", ["\\Sent"])]),
    "Enviadas pelo time",
  );
  assert.equal(
    chooseSentMailbox([box("Sent"), box("Saída", ["\\HasNoChildren", "\\sent"])]),
    "Saída",
  );
});

Deno.test("without the attribute, the usual names in order, top level before under INBOX", () => {
  assert.equal(
    chooseSentMailbox([box("INBOX"), box("Itens Enviados"), box("Rascunhos")]),
    "Itens Enviados",
  );
  assert.equal(chooseSentMailbox([box("Enviados"), box("Sent Items")]), "Sent Items");
  assert.equal(chooseSentMailbox([box("INBOX.Sent"), box("INBOX.Trash")]), "INBOX.Sent");
  assert.equal(chooseSentMailbox([box("INBOX/Sent"), box("sent")]), "sent");
  assert.equal(chooseSentMailbox([box("Sent Messages")]), "Sent Messages");
});

Deno.test("imapflow's guess from a localized name is the last resort; nothing selectable is none", () => {
  assert.equal(chooseSentMailbox([box("Gesendete Objekte", [], "\\Sent")]), "Gesendete Objekte");
  assert.equal(chooseSentMailbox([box("INBOX"), box("Arquivo")]), null);
  assert.equal(chooseSentMailbox([box("Sent", ["\\Noselect"])]), null);
  assert.equal(chooseSentMailbox([box("Enviados", ["\\NonExistent", "\\Sent"])]), null);
});

Deno.test("Gmail is told by X-GM-EXT-1 in its capabilities, in any case", () => {
  assert.equal(filesSubmittedMail(["IMAP4REV1", "X-GM-EXT-1", "UIDPLUS"]), true);
  assert.equal(filesSubmittedMail(new Map([["x-gm-ext-1", true]]).keys()), true);
  assert.equal(filesSubmittedMail(["IMAP4REV1", "SPECIAL-USE", "IDLE"]), false);
});
