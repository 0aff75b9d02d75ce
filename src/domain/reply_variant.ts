/**
 * Which texts of a reply rule answer a message: the variant in the message's language (pt, en
 * or es) when the rule has one, else the main texts. The choice, and why, goes into the
 * decision trail.
 */

import type { RuleAction } from "./rules.ts";
import type { ReplyTemplateSource } from "./reply_composer.ts";
import type { LanguageFinding, ReplyLanguage } from "./reply_language.ts";

type ReplyAction = Extract<RuleAction, { type: "reply" }>;

/** The locale of dates in a variant without its own. */
export const LANGUAGE_LOCALES: Readonly<Record<ReplyLanguage, string>> = Object.freeze({
  pt: "pt-BR",
  en: "en-US",
  es: "es",
});

/** The locale of dates in the main texts when the rule names none. */
export const DEFAULT_REPLY_LOCALE = "pt-BR";

/** The texts chosen for one reply. */
export interface ChosenVariant {
  /** The variant used, or "default" for the main texts. */
  variant: ReplyLanguage | "default";
  template: ReplyTemplateSource;
  /** BCP 47 locale of the dates in the texts. */
  locale: string;
  /** One line for the decision trail. */
  why: string;
}

/**
 * Chooses the texts for a message whose language is `finding` (null: the rule has no variants,
 * so the language was not looked for).
 */
export function chooseReplyVariant(
  action: ReplyAction,
  finding: LanguageFinding | null,
): ChosenVariant {
  const main: ChosenVariant = {
    variant: "default",
    template: { subject: action.subject, text: action.text, html: action.html },
    locale: action.locale ?? DEFAULT_REPLY_LOCALE,
    why: "",
  };
  if (finding === null) return { ...main, why: "reply texts: the main ones (no variants)" };
  const seen = finding.language === null
    ? "message language unknown"
    : `message language ${finding.language} (${
      finding.source === "content-language" ? "Content-Language header" : "detected in the text"
    })`;
  const variant = finding.language ? action.variants?.[finding.language] : undefined;
  if (!finding.language || !variant) return { ...main, why: `${seen}; reply texts: the main ones` };
  return {
    variant: finding.language,
    template: { subject: variant.subject, text: variant.text, html: variant.html },
    locale: variant.locale ?? LANGUAGE_LOCALES[finding.language],
    why: `${seen}; reply texts: variant ${finding.language}`,
  };
}
