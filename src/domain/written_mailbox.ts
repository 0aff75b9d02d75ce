/**
 * Mailboxes as people and clients write them in quoted headers and attribution lines:
 * "Name <a@b>", "a@b", "Name [mailto:a@b]", "'Name'" <a@b<mailto:a@b>>". Pure.
 */

/** A mailbox as written in a quoted header or attribution. */
export interface WrittenMailbox {
  name: string | null;
  address: string | null;
}

const EMAIL = /^[^\s@<>\[\]()"',;:]+@[^\s@<>\[\]()"',;:]+\.[^\s@<>\[\]()"',;:]+$/u;

/** True when `s` has the shape of an e-mail address. */
export function looksLikeAddress(s: string | null | undefined): s is string {
  return typeof s === "string" && EMAIL.test(s.trim());
}

export function findAddress(
  s: string,
): { address: string; bracketStart: number; end: number } | null {
  // "Name <a@b<mailto:a@b>>", "Name [mailto:a@b]", "Name <a@b [a@b]>": the first complete
  // bracketed address wins; the name is what stands before the first bracket.
  const bracketed = /[<\[(]\s*(?:mailto:)?([^\s<>\[\]()"',;]+@[^\s<>\[\]()"',;]+?)\s*[>\])]/iu
    .exec(s);
  if (bracketed && looksLikeAddress(bracketed[1])) {
    // "Bob <bob@x [bob@x]>", "Name <a@b<mailto:a@b>>": an opening bracket with only the address
    // between it and the matched one starts the mailbox too.
    const open = /[<\[(]\s*(?:mailto:)?[^\s<>\[\]()]*\s*$/u.exec(s.slice(0, bracketed.index));
    return {
      address: bracketed[1].toLowerCase(),
      bracketStart: open ? open.index : bracketed.index,
      end: bracketed.index + bracketed[0].length,
    };
  }
  const bare =
    /(?:mailto:)?([^\s<>\[\]()"',;:]+@[^\s<>\[\]()"',;:]+\.[A-Za-z]{2,}[^\s<>\[\]()"',;:]*)/u
      .exec(s);
  if (bare && looksLikeAddress(bare[1])) {
    return {
      address: bare[1].toLowerCase(),
      bracketStart: bare.index,
      end: bare.index + bare[0].length,
    };
  }
  return null;
}

/** Reads the first mailbox of a header value ("Name <a@b>", "a@b", "Name [mailto:a@b]", "Name"). */
export function readMailbox(value: string): WrittenMailbox {
  const v = value.trim();
  if (v.length === 0) return { name: null, address: null };
  const addr = findAddress(v);
  const rawName = addr ? v.slice(0, addr.bracketStart) : v;
  let name = rawName.trim().replace(/^\*+|\*+$/g, "").trim();
  // Quotes of several kinds, sometimes nested: "'Walter Sheltan'" <…>.
  for (let k = 0; k < 3; k++) name = name.replace(/^["'„“«](.*)["'”»]$/u, "$1").trim();
  if (addr && name.toLowerCase() === addr.address) name = "";
  if (!addr && /[;,]/.test(name)) name = name.split(/[;,]/)[0].trim();
  return { name: name || null, address: addr ? addr.address : null };
}
