/**
 * The words clients write when they forward or reply, per UI language: subject prefixes ("Fwd:",
 * "Enc:", "AW:") and the labels of a quoted header block ("From:", "De :", "Von:"). Data only;
 * forward_markers.ts and subject_prefixes.ts read with it.
 */

// Prefix words, lower-cased. Sources: the prefixes Outlook, Gmail, Apple Mail, Thunderbird and
// Yahoo write in each UI language (Outlook localises them, the others mostly write Fwd:/Re:).
export const FORWARD_PREFIXES: ReadonlySet<string> = new Set([
  "fwd", // Gmail, Thunderbird, Apple Mail, most clients
  "fw", // Outlook (en, pt, nl, cs, ru…), Yahoo
  "fwrd",
  "enc", // Outlook pt-BR (encaminhar)
  "tr", // Outlook fr (transférer)
  "transf",
  "wg", // Outlook de (weitergeleitet)
  "wtr", // nl
  "doorst", // Outlook nl (doorsturen)
  "rv", // Outlook es (reenviar)
  "reenv",
  "i", // Outlook it (inoltra)
  "vb", // Outlook sv (vidarebefordra)
  "vl", // Outlook fi (välitä)
  "pd", // Outlook pl (prześlij dalej)
  "redir", // Outlook ro (redirecționare)
  "videresend", // Outlook no
  "ilt", // Outlook tr (iletilen)
  "fs", // Outlook is (framsent)
  "továbbítás", // hu
  "πρθ", // el
  "转发", // zh-CN
  "轉寄", // zh-TW
  "轉發",
  "転送", // ja
  "전달", // ko
  "пересл", // ru
  "edasta", // et
]);

export const REPLY_PREFIXES: ReadonlySet<string> = new Set([
  "re",
  "res", // Outlook pt-BR (responder)
  "aw", // Outlook de (Antwort)
  "sv", // Outlook sv, da, no, is (svar)
  "antw", // nl
  "odp", // pl, cs
  "odg", // hr
  "r", // Outlook it (risposta)
  "rif", // it
  "ref",
  "réf",
  "rép",
  "atb", // lv
  "ats", // lt
  "vá", // hu
  "válasz",
  "ynt", // Outlook tr (yanıt)
  "απ", // el
  "σχετ",
  "回复", // zh-CN
  "回覆", // zh-TW
  "答复",
  "返信", // ja
  "회신", // ko
  "답장",
  "отв", // ru
  "ответ",
  "відп", // uk
]);

// "VS:" is Outlook's forward prefix in Danish and Norwegian (videresend) and its reply prefix in
// Finnish and Estonian (vastaus, vastus): the body or the headers have to decide.
export const FORWARD_OR_REPLY_PREFIXES: ReadonlySet<string> = new Set(["vs"]);

// ---------------------------------------------------------------------------------------------
// Header fields of a quoted message ("From: …", "De : …", "Von: …"), with the languages they
// belong to; the languages settle prefixes and month names that mean different things.

/** A field of a quoted header block. */
export type HeaderField = "from" | "date" | "to" | "cc" | "subject" | "replyTo";

export type LabelTable = Readonly<Record<HeaderField, ReadonlyArray<readonly [string, string]>>>;

export const FIELD_LABELS: LabelTable = {
  from: [
    ["From", "en"],
    ["De", "pt es fr ro"],
    ["De la", "ro"],
    ["Remetente", "pt"],
    ["Remitente", "es"],
    ["Expéditeur", "fr"],
    ["Von", "de"],
    ["Absender", "de"],
    ["Van", "nl"],
    ["Afzender", "nl"],
    ["Da", "it"],
    ["Mittente", "it"],
    ["Fra", "da no"],
    ["Från", "sv"],
    ["Frá", "is"],
    ["Lähettäjä", "fi"],
    ["Saatja", "et"],
    ["Od", "pl cs sk hr"],
    ["Nadawca", "pl"],
    ["Šalje", "hr"],
    ["Pošiljatelj", "hr"],
    ["Feladó", "hu"],
    ["От", "ru"],
    ["Отправитель", "ru"],
    ["Від", "uk"],
    ["Від кого", "uk"],
    ["Kimden", "tr"],
    ["Gönderen", "tr"],
    ["Expeditorul", "ro"],
    ["Από", "el"],
    ["Αποστολέας", "el"],
    ["差出人", "ja"],
    ["送信元", "ja"],
    ["发件人", "zh"],
    ["寄件者", "zh"],
    ["寄件人", "zh"],
    ["보낸 사람", "ko"],
  ],
  date: [
    ["Date", "en fr"],
    ["Sent", "en"],
    ["Data", "pt it pl ro"],
    ["Enviado", "pt es"],
    ["Enviada", "pt"],
    ["Enviado em", "pt"],
    ["Enviada em", "pt"],
    ["Enviado el", "es"],
    ["Fecha", "es"],
    ["Envoyé", "fr"],
    ["Envoyé le", "fr"],
    ["Datum", "de nl sv cs hr"],
    ["Gesendet", "de"],
    ["Gesendet am", "de"],
    ["Verzonden", "nl"],
    ["Verzonden op", "nl"],
    ["Inviato", "it"],
    ["Inviato il", "it"],
    ["Dato", "da no"],
    ["Sendt", "da no"],
    ["Skickat", "sv"],
    ["Skickades", "sv"],
    ["Päivämäärä", "fi"],
    ["Päiväys", "fi"],
    ["Lähetetty", "fi"],
    ["Kuupäev", "et"],
    ["Saadetud", "et"],
    ["Wysłano", "pl"],
    ["Wysłane", "pl"],
    ["Odesláno", "cs"],
    ["Odoslané", "sk"],
    ["Dátum", "sk hu"],
    ["Poslano", "hr"],
    ["Elküldve", "hu"],
    ["Küldve", "hu"],
    ["Дата", "ru uk"],
    ["Отправлено", "ru"],
    ["Надіслано", "uk"],
    ["Відправлено", "uk"],
    ["Tarih", "tr"],
    ["Gönderilen", "tr"],
    ["Gönderildi", "tr"],
    ["Dată", "ro"],
    ["Trimis", "ro"],
    ["Dagsetning", "is"],
    ["Ημερομηνία", "el"],
    ["Στάλθηκε", "el"],
    ["日付", "ja"],
    ["送信日時", "ja"],
    ["日期", "zh"],
    ["发送时间", "zh"],
    ["傳送時間", "zh"],
    ["時間", "zh"],
    ["날짜", "ko"],
    ["보낸 날짜", "ko"],
  ],
  to: [
    ["To", "en"],
    ["Para", "pt es"],
    ["Destinatário", "pt"],
    ["Destinatario", "es it"],
    ["À", "fr"],
    ["A", "fr it es"],
    ["Pour", "fr"],
    ["An", "de"],
    ["Aan", "nl"],
    ["Til", "da no"],
    ["Till", "sv"],
    ["Vastaanottaja", "fi"],
    ["Saaja", "et"],
    ["Do", "pl"],
    ["Adresat", "pl"],
    ["Komu", "cs sk"],
    ["Pre", "sk"],
    ["Prima", "hr"],
    ["Za", "hr"],
    ["Címzett", "hu"],
    ["Кому", "ru uk"],
    ["Kime", "tr"],
    ["Alıcı", "tr"],
    ["Către", "ro"],
    ["Destinatarul", "ro"],
    ["Προς", "el"],
    ["宛先", "ja"],
    ["送信先", "ja"],
    ["收件人", "zh"],
    ["收件者", "zh"],
    ["받는 사람", "ko"],
  ],
  cc: [
    ["Cc", "en pt es fr it nl da no de"],
    ["Kopie", "de cs nl"],
    ["Kopie (CC)", "de"],
    ["Kopia", "sv pl"],
    ["Kopi", "no da"],
    ["Kopio", "fi"],
    ["Koopia", "et"],
    ["Copie à", "fr"],
    ["Copie", "fr"],
    ["Copia", "es it"],
    ["Cópia", "pt"],
    ["Com cópia", "pt"],
    ["Másolat", "hu"],
    ["Másolatot kap", "hu"],
    ["Dw", "pl"],
    ["Копия", "ru"],
    ["Копія", "uk"],
    ["Bilgi", "tr"],
    ["Kópia", "sk"],
    ["Κοιν", "el"],
    ["抄送", "zh"],
    ["副本", "zh"],
    ["참조", "ko"],
  ],
  subject: [
    ["Subject", "en"],
    ["Assunto", "pt"],
    ["Asunto", "es"],
    ["Objet", "fr"],
    ["Sujet", "fr"],
    ["Betreff", "de"],
    ["Oggetto", "it"],
    ["Onderwerp", "nl"],
    ["Emne", "da no"],
    ["Ämne", "sv"],
    ["Efni", "is"],
    ["Aihe", "fi"],
    ["Teema", "et"],
    ["Temat", "pl"],
    ["Předmět", "cs"],
    ["Predmet", "sk hr"],
    ["Naslov", "hr"],
    ["Tárgy", "hu"],
    ["Тема", "ru uk"],
    ["Konu", "tr"],
    ["Subiect", "ro"],
    ["Subiectul", "ro"],
    ["Θέμα", "el"],
    ["件名", "ja"],
    ["主题", "zh"],
    ["主旨", "zh"],
    ["제목", "ko"],
  ],
  replyTo: [
    ["Reply-To", "en"],
    ["Responder a", "pt es"],
    ["Antwort an", "de"],
    ["Répondre à", "fr"],
    ["Rispondi a", "it"],
    ["Antwoord aan", "nl"],
    ["Svar til", "da no"],
    ["Svara till", "sv"],
  ],
};
