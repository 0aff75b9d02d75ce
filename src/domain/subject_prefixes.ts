/**
 * The tags and prefixes at the front of a subject ("[EXT] RES: Fwd: …"), read off one by one,
 * outermost first. Pure functions over strings.
 */
import { FORWARD_OR_REPLY_PREFIXES, FORWARD_PREFIXES, REPLY_PREFIXES } from "./forward_labels.ts";

/** What a subject prefix says: `forward-or-reply` is a prefix two languages read differently. */
export type PrefixKind = "forward" | "reply" | "forward-or-reply";

/** One prefix as written ("FW:", "Fwd[2]:", "回复：") and what it means. */
export interface SubjectPrefix {
  token: string;
  kind: PrefixKind;
}

/** A subject taken apart: gateway tags, prefixes outermost first, and what follows them. */
export interface SubjectReading {
  tags: string[];
  prefixes: SubjectPrefix[];
  base: string;
}

// Gateway tags before the prefixes: "[EXT]", "[External]", "(EXT)", "*EXTERNAL*", "EXTERNAL:".
const TAG =
  /^(?:\[[^\]\n]{1,60}\]|\((?:ext|external|extern|externe|externo|externa)\)|\*{1,3}[^*\n]{1,30}\*{1,3})\s*/iu;
const WORD_TAG = /^(?:ext|external|extern|externe|externo|caution|spam|suspicious)\s*:\s*/iu;
const PREFIX =
  /^([^\s:：\[\]()*<>"]{1,12}?)\s*(?:\[\d{1,3}\]|\(\d{1,3}\)|\^\d{1,3})?\s*\.?\s*[:：]\s*/u;

/** Reads tags and reply/forward prefixes off the front of a subject, outermost first. */
export function readSubject(subject: string | null): SubjectReading {
  const tags: string[] = [];
  const prefixes: SubjectPrefix[] = [];
  let rest = (subject ?? "").trim();
  for (let guard = 0; guard < 20 && rest.length > 0; guard++) {
    const tag = TAG.exec(rest);
    if (tag) {
      const token = tag[0].trim();
      rest = rest.slice(tag[0].length);
      // "[Fwd: Budget]" (old Mozilla, some webmails) wraps the whole subject in brackets: its
      // inside is read like a subject; any other bracket is a tag.
      const inner = token.startsWith("[") ? PREFIX.exec(token.slice(1, -1)) : null;
      if (inner && prefixKind(inner[1])) {
        rest = `${token.slice(1 + inner[0].length, -1)} ${rest}`.trim();
        prefixes.push({ token: `[${inner[0].trim()}`, kind: prefixKind(inner[1])! });
      } else {
        tags.push(token);
      }
      continue;
    }
    // A word tag ("EXTERNAL: Fwd: …") is only a tag when a prefix follows it.
    const word = WORD_TAG.exec(rest);
    if (word && readSubject(rest.slice(word[0].length)).prefixes.length > 0) {
      tags.push(word[0].trim());
      rest = rest.slice(word[0].length);
      continue;
    }
    const m = PREFIX.exec(rest);
    const kind = m ? prefixKind(m[1]) : null;
    if (!m || !kind) break;
    prefixes.push({ token: m[0].trim(), kind });
    rest = rest.slice(m[0].length);
  }
  return { tags, prefixes, base: rest.trim() };
}

function prefixKind(word: string): PrefixKind | null {
  // "İLT" lower-cases to "i̇lt" (with a combining dot); "PŘ" and "Vá" are compared without marks.
  const w = word.replace(/İ/g, "I").toLowerCase().replace(/\s+/g, "");
  const plain = w.normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  for (const candidate of [w, plain]) {
    if (FORWARD_PREFIXES.has(candidate)) return "forward";
    if (REPLY_PREFIXES.has(candidate)) return "reply";
    if (FORWARD_OR_REPLY_PREFIXES.has(candidate)) return "forward-or-reply";
  }
  return null;
}
