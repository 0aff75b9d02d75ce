/**
 * Dates as clients write them in a forwarded block ("qui., 5 de dez. de 2024 às 10:31",
 * "Thursday, December 5, 2024 10:31 AM", "26. listopada 2021. u 14:25:08 EEST"), read to ISO 8601.
 * Pure: no clock, so a date written without a year is not guessed.
 *
 * Written here rather than taken from chrono-node, measured on the labelled corpus
 * (../shared/corpus/forwarded: 74 messages with a written original date, 19 languages). This
 * parser reads all 74 (each checked by hand against the written text); chrono-node 2.10.3 with
 * its `en` locale, then `pt` for what `en` leaves, reads 49 of them to the same date, time and
 * offset (32 of the 33 English and Portuguese ones), and 57 with the locale of each message's
 * language where it has one. It has none for cs, da, et, hr, hu, no, pl or sk; in Portuguese it
 * misreads Gmail's own "qui., 5 de dez. de 2024 às 10:31" (as the Thursday after the reference
 * date) and drops the time of "quarta, 27/10/2021 à(s) 09:31". It reads no corpus date that this
 * parser cannot, so combining the two would add nothing.
 */

/** What helps read a written date: the block's label languages, the message's own UTC offset. */
export interface DateHints {
  /** Most likely first; they settle month names shared by languages ("listopad"). */
  languages?: readonly string[];
  /** Used when the written date names no zone: clients write the quoted date in local time. */
  zoneMinutes?: number | null;
}

// Month names and the abbreviations clients write, per language; month number first.
const MONTH_NAMES: ReadonlyArray<readonly [number, string, string]> = [
  [1, "en nl de da no sv et hu", "january jan januari januar jänner jän jaanuar jaan"],
  [2, "en nl de da no sv et hu", "february feb februari februar veebruar veebr febr"],
  [3, "en nl de da no sv et", "march mar maart mrt märz mär maerz marts mars märts"],
  [4, "en nl de da no sv et", "april apr aprill"],
  [5, "en nl de da no sv et", "may mei mai maj"],
  [6, "en nl de da no sv et", "june jun juni juuni"],
  [7, "en nl de da no sv et", "july jul juli juuli"],
  [8, "en nl de da no sv et", "august aug augustus augusti"],
  [9, "en nl de da no sv et", "september sep sept"],
  [10, "en nl de da no sv et", "october oct oktober okt oktoober"],
  [11, "en nl de da no sv et", "november nov"],
  [12, "en nl de da no sv et", "december dec dezember dez desember des detsember dets"],
  [1, "pt es fr it ro", "janeiro enero ene janvier janv gennaio gen ianuarie ian"],
  [2, "pt es fr it ro", "fevereiro fev febrero février fevrier févr fevr febbraio februarie"],
  [3, "pt es fr it ro", "março marco marzo martie"],
  [4, "pt es fr it ro", "abril abr avril avr aprile aprilie"],
  [5, "pt es fr it ro", "maio mayo maggio mag"],
  [6, "pt es fr it ro", "junho junio juin giugno giu iunie iun"],
  [7, "pt es fr it ro", "julho julio juillet juil luglio lug iulie iul"],
  [8, "pt es fr it ro", "agosto ago août aout"],
  [9, "pt es fr it ro", "setembro set septiembre setiembre septembre settembre septembrie"],
  [10, "pt es fr it ro", "outubro out octubre octobre ottobre ott octombrie"],
  [11, "pt es fr it ro", "novembro noviembre novembre noiembrie noi"],
  [12, "pt es fr it ro", "dezembro diciembre dic décembre decembre déc dicembre decembrie"],
  [1, "pl cs sk hu", "styczeń stycznia sty leden ledna led január januára"],
  [2, "pl cs sk hu", "luty lutego lut únor února úno február februára"],
  [3, "pl cs sk hu", "marzec marca březen března bře marec március márc"],
  [4, "pl cs sk hu", "kwiecień kwietnia kwi duben dubna dub apríl apríla április ápr"],
  [5, "pl cs sk hu", "maja květen května kvě máj mája május"],
  [6, "pl cs sk hu", "czerwiec czerwca cze červen června čer jún júna június"],
  [7, "pl cs sk hu", "lipiec lipca červenec července črc júl júla július"],
  [8, "pl cs sk hu", "sierpień sierpnia sie srpen srpna augusta augusztus"],
  [9, "pl cs sk hu", "wrzesień września wrz září zář septembra szeptember szept"],
  [10, "pl cs sk hu", "październik października paź říjen října říj október októbra"],
  [11, "pl cs sk", "listopad listopada listopadu lis novembra"],
  [12, "pl cs sk", "grudzień grudnia gru prosinec prosince pro decembra"],
  [7, "pl", "lip"],
  [8, "cs", "srp"],
  [1, "hr", "siječanj siječnja sij"],
  [2, "hr", "veljača veljače velj"],
  [3, "hr", "ožujak ožujka ožu"],
  [4, "hr", "travanj travnja tra"],
  [5, "hr", "svibanj svibnja svi"],
  [6, "hr", "lipanj lipnja lip"],
  [7, "hr", "srpanj srpnja srp"],
  [8, "hr", "kolovoz kolovoza kol"],
  [9, "hr", "rujan rujna ruj"],
  [10, "hr", "listopad listopada lis"],
  [11, "hr", "studeni studenoga studenog stu"],
  [12, "hr", "prosinac prosinca pro"],
  [1, "tr ru uk", "ocak oca январь января янв січень січня січ"],
  [2, "tr ru uk", "şubat şub февраль февраля фев февр лютий лютого лют"],
  [3, "tr ru uk", "mart март марта мар березень березня бер"],
  [4, "tr ru uk", "nisan nis апрель апреля апр квітень квітня кві квіт"],
  [5, "tr ru uk", "mayıs май мая травень травня тра трав"],
  [6, "tr ru uk", "haziran haz июнь июня июн червень червня чер черв"],
  [7, "tr ru uk", "temmuz tem июль июля июл липень липня лип"],
  [8, "tr ru uk", "ağustos ağu август августа авг серпень серпня сер серп"],
  [9, "tr ru uk", "eylül eyl сентябрь сентября сен сент вересень вересня вер"],
  [10, "tr ru uk", "ekim eki октябрь октября окт жовтень жовтня жов жовт"],
  [11, "tr ru uk", "kasım kas ноябрь ноября ноя нояб листопад листопада лис лист"],
  [12, "tr ru uk", "aralık ara декабрь декабря дек грудень грудня гру груд"],
];

const FINNISH_MONTHS = [
  "tammi",
  "helmi",
  "maalis",
  "huhti",
  "touko",
  "kesä",
  "heinä",
  "elo",
  "syys",
  "loka",
  "marras",
  "joulu",
];

const ZONES: Readonly<Record<string, number>> = {
  gmt: 0,
  utc: 0,
  ut: 0,
  wet: 0,
  west: 60,
  bst: 60,
  cet: 60,
  cest: 120,
  met: 60,
  mest: 120,
  mez: 60,
  mesz: 120,
  "seč": 60,
  "selč": 120,
  eet: 120,
  eest: 180,
  oez: 120,
  oesz: 180,
  msk: 180,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
  akst: -540,
  akdt: -480,
  hst: -600,
  ast: -240,
  adt: -180,
  brt: -180,
  brst: -120,
  art: -180,
  jst: 540,
  kst: 540,
  hkt: 480,
  sgt: 480,
  awst: 480,
  aest: 600,
  aedt: 660,
  nzst: 720,
  nzdt: 780,
};

interface MonthHit {
  month: number;
  languages: string[];
}

/** Every month name of MONTH_NAMES, to the months (and their languages) it can mean. */
const MONTH_BY_NAME: ReadonlyMap<string, readonly MonthHit[]> = (() => {
  const map = new Map<string, MonthHit[]>();
  for (const [month, langs, names] of MONTH_NAMES) {
    for (const name of names.split(" ")) {
      const hits = map.get(name) ?? [];
      hits.push({ month, languages: langs.split(" ") });
      map.set(name, hits);
    }
  }
  return map;
})();

function monthOf(token: string): MonthHit[] {
  const t = token.toLowerCase().replace(/\.$/, "");
  const hits: MonthHit[] = (MONTH_BY_NAME.get(t) ?? []).map((h) => ({
    month: h.month,
    languages: [...h.languages],
  }));
  // Finnish: "lokakuuta" (inflected), "lokak." (Gmail's abbreviation).
  const fi = FINNISH_MONTHS.findIndex((stem) => t.startsWith(`${stem}kuu`) || t === `${stem}k`);
  if (fi >= 0) hits.push({ month: fi + 1, languages: ["fi"] });
  return hits;
}

/**
 * Reads a date as a client wrote it in a forwarded block ("26 de outubro de 2021, 14:25:08 EEST",
 * "Wed, Oct 27, 2021 at 9:31 AM", "28/10/21, 12:46") and gives it as ISO 8601, with the offset
 * when one is known; null when it cannot be read. No clock: a date without a year is not guessed.
 */
export function parseWrittenDate(written: string | null, hints: DateHints = {}): string | null {
  if (!written) return null;
  let s = written.normalize("NFC").replace(/[\u200B-\u200F\u202A-\u202E\u2060]/g, "")
    .replace(/[\u00A0\u202F]/g, " ").replace(/−/g, "-").toLowerCase().trim();
  if (s.length === 0 || s.length > 200) return null;

  // Zone: "+0100", "GMT+1", "UTC+01:00", or an abbreviation.
  let offset: number | null = null;
  const gmt = /(?:gmt|utc|ut)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?(?!\d)/u.exec(s);
  const numeric = /(?:^|[\s(])([+-])(\d{2}):?(\d{2})(?=$|[\s)])/u.exec(s);
  const zm = gmt ?? numeric;
  if (zm) {
    offset = (zm[1] === "-" ? -1 : 1) * (Number(zm[2]) * 60 + Number(zm[3] ?? 0));
    s = s.replace(zm[0], " ");
  } else {
    for (const m of s.matchAll(/\p{L}+/gu)) {
      if (ZONES[m[0]] !== undefined) {
        offset = ZONES[m[0]];
        s = `${s.slice(0, m.index)} ${s.slice(m.index + m[0].length)}`;
        break;
      }
    }
  }
  s = s.replace(/\([^)]*\)/g, " ");

  // Month by name, if any (the first token is skipped when another qualifies: "mar" is a
  // Spanish and Italian Tuesday as well as March).
  const candidates: Array<{ index: number; length: number; hits: MonthHit[] }> = [];
  for (const m of s.matchAll(/\p{L}+\.?/gu)) {
    const hits = monthOf(m[0]);
    if (hits.length > 0) candidates.push({ index: m.index, length: m[0].length, hits });
  }
  const chosen = candidates.length > 1 ? candidates.slice(1).at(-1)! : candidates[0];
  let month: number | null = null;
  let day: number | null = null;
  let year: number | null = null;
  if (chosen) {
    month = resolveMonth(chosen.hits, hints.languages ?? [], s);
    s = `${s.slice(0, chosen.index)} ${s.slice(chosen.index + chosen.length)}`;
  } else {
    // Numbers only: Y-M-D, or D/M/Y and M/D/Y told apart by which part exceeds 12, else by a
    // 12-hour clock (the United States writes both M/D/Y and AM/PM).
    // "2022年9月19日" (ja, zh) and "2022년 9월 19일" (ko) read as Y-M-D too.
    const ymd = /(?<!\d)(\d{4})\s*(?:[-/.]|年|년)\s*(\d{1,2})\s*(?:[-/.]|月|월)\s*(\d{1,2})(?!\d)/u
      .exec(s);
    const dmy = /(?<!\d)(\d{1,2})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{4}|\d{2})(?![\d:])/u.exec(s);
    if (ymd) {
      [year, month, day] = [Number(ymd[1]), Number(ymd[2]), Number(ymd[3])];
      s = s.replace(ymd[0], " ");
    } else if (dmy) {
      const a = Number(dmy[1]);
      const b = Number(dmy[3]);
      const twelveHour = /\d\s*[ap]\.?\s?m\b/u.test(s);
      const monthFirst = b > 12 || (a <= 12 && twelveHour);
      [month, day] = monthFirst ? [a, b] : [b, a];
      year = Number(dmy[4]);
      if (year < 100) year += year < 70 ? 2000 : 1900;
      s = s.replace(dmy[0], " ");
    }
  }

  // Time: "14:25:08", "14.25", "9:31 am", "17h30".
  let hour = 0;
  let minute = 0;
  let second = 0;
  let hasTime = false;
  const tm = /(?<![\d.:])(\d{1,2})[:.h](\d{2})(?:[:.](\d{2}))?(?!\d)(?:\s*([ap])\.?\s?m\b\.?)?/u
    .exec(
      s,
    );
  if (tm) {
    hour = Number(tm[1]);
    minute = Number(tm[2]);
    second = Number(tm[3] ?? 0);
    if (tm[4] === "p" && hour < 12) hour += 12;
    if (tm[4] === "a" && hour === 12) hour = 0;
    hasTime = true;
    s = s.replace(tm[0], " ");
  }

  if (month !== null && day === null) {
    const numbers = [...s.matchAll(/(?<!\d)\d{1,4}(?!\d)/gu)].map((m) => m[0]);
    const y = numbers.find((n) => n.length === 4);
    const small = numbers.filter((n) => n.length <= 2);
    if (y) year = Number(y);
    else if (small.length >= 2) year = 2000 + Number(small[1]);
    if (small.length > 0) day = Number(small[0]);
  }
  if (year === null || month === null || day === null) return null;
  if (year < 1970 || year > 2100 || month < 1 || month > 12 || day < 1) return null;
  if (hour > 23 || minute > 59 || second > 60) return null;
  const check = new Date(Date.UTC(year, month - 1, day));
  if (check.getUTCDate() !== day) return null;

  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const datePart = `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
  if (!hasTime) return datePart;
  const zone = offset ?? hints.zoneMinutes ?? null;
  const timePart = `${pad(hour)}:${pad(minute)}:${pad(Math.min(second, 59))}`;
  if (zone === null) return `${datePart}T${timePart}`;
  const sign = zone < 0 ? "-" : "+";
  const abs = Math.abs(zone);
  return `${datePart}T${timePart}${
    zone === 0 ? "Z" : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  }`;
}

function resolveMonth(hits: MonthHit[], hints: readonly string[], s: string): number {
  if (hits.length === 1) return hits[0].month;
  for (const lang of hints) {
    const byHint = hits.find((h) => h.languages.includes(lang));
    if (byHint) return byHint.month;
  }
  // Croatian writes a full stop after the year ("26. listopada 2021. u 14:25"); Polish and
  // Czech, whose "listopad" is November, do not.
  if (/(?<!\d)\d{4}\.(?:\s|$)/u.test(s)) {
    const hr = hits.find((h) => h.languages.includes("hr"));
    if (hr) return hr.month;
  }
  return hits[0].month;
}
