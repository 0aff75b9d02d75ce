/**
 * The rule editor's form: the rule's fields, its conditions as rows (what, how, value) in groups
 * (all of these; any of these groups; except when), opening hours, the reply and its variants,
 * and the rule's own limits. Every button that adds or removes a row posts the whole form to
 * `/rules/form`, which answers with the editor again (the fragment for htmx, the page without
 * JavaScript). Input names come from src/admin/rule_form.ts, which reads them back.
 */
import type { Child } from "hono/jsx";
import type { Dict } from "./i18n.ts";
import { fill } from "./i18n.ts";
import {
  CONDITION_FIELDS,
  CONDITION_OPS,
  type GroupForm,
  names,
  ROOT_GROUP,
  type RuleForm,
  type ScheduleForm,
} from "../src/admin/rule_form.ts";
import { REPLY_LANGUAGES, type ReplyLanguage } from "../src/domain/reply_language.ts";

/** Problems by input name. */
export type FieldProblems = ReadonlyMap<string, readonly string[]>;

/** Where the editor's form posts its edits (add/remove a row, switch views). */
export const FORM_EDIT_PATH = "/rules/form";

/** The problems of one input, right after it. */
function FieldError(props: { problems: FieldProblems; name: string }) {
  const list = props.problems.get(props.name);
  if (!list || list.length === 0) return null;
  return <span class="field-error" data-for={props.name}>{list.join("; ")}</span>;
}

/** A button that changes the form's shape and comes back with the editor. */
export function EditButton(props: { edit: string; label: string; class?: string }) {
  return (
    <button
      type="submit"
      name="edit"
      value={props.edit}
      formaction={FORM_EDIT_PATH}
      formnovalidate
      hx-post={FORM_EDIT_PATH}
      hx-target="#rule-editor"
      hx-swap="outerHTML"
      class={props.class ?? "small"}
    >
      {props.label}
    </button>
  );
}

function invalid(problems: FieldProblems, name: string) {
  return problems.has(name) ? { "aria-invalid": "true" } : {};
}

function TextInput(
  props: {
    problems: FieldProblems;
    name: string;
    value: string;
    label?: string;
    placeholder?: string;
    type?: string;
    size?: number;
  },
) {
  const input = (
    <input
      type={props.type ?? "text"}
      name={props.name}
      value={props.value}
      placeholder={props.placeholder}
      size={props.size}
      {...invalid(props.problems, props.name)}
    />
  );
  if (!props.label) {
    return (
      <>
        {input}
        <FieldError problems={props.problems} name={props.name} />
      </>
    );
  }
  return (
    <label>
      {props.label}
      {input}
      <FieldError problems={props.problems} name={props.name} />
    </label>
  );
}

function TextArea(
  props: { problems: FieldProblems; name: string; value: string; label: string; rows: number },
) {
  return (
    <label>
      {props.label}
      {/* HTML drops one line break right after <textarea>: give it one to drop. */}
      <textarea
        name={props.name}
        rows={props.rows}
        spellcheck={false}
        {...invalid(props.problems, props.name)}
      >
        {"\n" + props.value}
      </textarea>
      <FieldError problems={props.problems} name={props.name} />
    </label>
  );
}

function Checkbox(props: { name: string; checked: boolean; label: string }) {
  return (
    <label class="check">
      <input type="checkbox" name={props.name} value="1" checked={props.checked} /> {props.label}
    </label>
  );
}

function fieldLabel(t: Dict, field: string): string {
  const labels: Record<string, string> = {
    kind: t.fieldKind,
    account: t.fieldAccount,
    from: t.fieldFrom,
    original_from: t.fieldOriginalFrom,
    subject: t.fieldSubject,
    body: t.fieldBody,
    header: t.fieldHeader,
  };
  return labels[field] ?? field;
}

function opLabel(t: Dict, op: string): string {
  const labels: Record<string, string> = {
    is: t.opIs,
    matches: t.opMatches,
    contains: t.opContains,
    regex: t.opRegex,
    present: t.opPresent,
    equals: t.opEquals,
  };
  return labels[op] ?? op;
}

function ConditionRows(props: { t: Dict; group: GroupForm; at: string; problems: FieldProblems }) {
  const { t, group, at, problems } = props;
  if (group.rows.length === 0) return null;
  return (
    <table class="conditions">
      <thead>
        <tr>
          <th>{t.condField}</th>
          <th>{t.condOp}</th>
          <th>{t.condArg}</th>
          <th>{t.condValue}</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        {group.rows.map((row, i) => {
          const n = (part: "field" | "op" | "arg" | "value") => names.row(at, i, part);
          return (
            <tr class="condition" data-row={`${at}.r.${i}`}>
              <td>
                <select
                  name={n("field")}
                  aria-label={t.condField}
                  {...invalid(problems, n("field"))}
                >
                  <option value="">{t.fieldChoose}</option>
                  {Object.keys(CONDITION_FIELDS).map((f) => (
                    <option value={f} selected={row.field === f}>{fieldLabel(t, f)}</option>
                  ))}
                </select>
                <FieldError problems={problems} name={n("field")} />
              </td>
              <td>
                <select name={n("op")} aria-label={t.condOp} {...invalid(problems, n("op"))}>
                  <option value="" selected={row.op === ""}>{t.opDefault}</option>
                  {CONDITION_OPS.map((op) => (
                    <option value={op} selected={row.op === op}>
                      {opLabel(t, op)}
                    </option>
                  ))}
                </select>
                <FieldError problems={problems} name={n("op")} />
              </td>
              <td>
                <TextInput
                  problems={problems}
                  name={n("arg")}
                  value={row.arg}
                  placeholder={row.field === "header" || row.field === "" ? "X-Priority" : ""}
                  size={12}
                />
              </td>
              <td>
                <TextInput
                  problems={problems}
                  name={n("value")}
                  value={row.value}
                  placeholder={row.field === "kind" ? "direct | forwarded" : ""}
                  size={28}
                />
              </td>
              <td>
                <EditButton edit={`remove-row:${at}.r.${i}`} label={t.removeRow} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** Weekdays in the order the form lists them: Monday first (the model counts from Sunday). */
const DAY_ORDER = [1, 2, 3, 4, 5, 6, 0];

function dayLabel(t: Dict, day: number): string {
  return [t.daySun, t.dayMon, t.dayTue, t.dayWed, t.dayThu, t.dayFri, t.daySat][day];
}

function SchedulePicker(
  props: { t: Dict; s: ScheduleForm; at: string; problems: FieldProblems; zones: string[] },
) {
  const { t, s, at, problems } = props;
  const zoneName = names.scheduleField(at, "timezone");
  const zones = s.timezone === "" || props.zones.includes(s.timezone)
    ? props.zones
    : [s.timezone, ...props.zones];
  return (
    <fieldset class="schedule">
      <legend>{t.scheduleTitle}</legend>
      <input type="hidden" name={names.schedule(at)} value="1" />
      <label>
        {t.scheduleZone}
        <select name={zoneName} {...invalid(problems, zoneName)}>
          <option value="">{t.scheduleZoneDefault}</option>
          {zones.map((z) => (
            <option value={z} selected={s.timezone === z}>
              {z}
            </option>
          ))}
        </select>
        <FieldError problems={problems} name={zoneName} />
      </label>
      <p class="sub">{t.scheduleHoursHelp}</p>
      <table class="hours">
        <tbody>
          {DAY_ORDER.map((d) => (
            <tr>
              <th>{dayLabel(t, d)}</th>
              <td>
                <TextInput
                  problems={problems}
                  name={names.scheduleDay(at, d)}
                  value={s.hours[d] ?? ""}
                  placeholder={t.closedDay}
                  size={32}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <TextInput
        problems={problems}
        name={names.scheduleField(at, "calendars")}
        value={s.calendars}
        label={t.holidayCalendars}
        placeholder="BR, BR-SP"
      />
      <TextInput
        problems={problems}
        name={names.scheduleField(at, "dates")}
        value={s.dates}
        label={t.holidayDates}
        placeholder="2026-12-24, 2026-12-31"
      />
      <Checkbox
        name={names.scheduleField(at, "outside")}
        checked={s.outside}
        label={t.scheduleOutside}
      />
      <p>
        <EditButton edit={`remove-schedule:${at}`} label={t.removeSchedule} />
      </p>
    </fieldset>
  );
}

/** A group of conditions and, inside it, its alternatives and its exception. */
function Group(
  props: {
    t: Dict;
    group: GroupForm;
    at: string;
    title: string;
    problems: FieldProblems;
    zones: string[];
    remove?: Child;
    depth: number;
  },
) {
  const { t, group, at, problems } = props;
  // The rules nest any/not five levels deep; the form stops offering them there.
  const nest = props.depth < 5;
  return (
    <fieldset class="group" data-group={at}>
      <legend>{props.title}</legend>
      {at !== ROOT_GROUP && <input type="hidden" name={names.group(at)} value="1" />}
      <FieldError problems={problems} name={names.group(at)} />
      <ConditionRows t={t} group={group} at={at} problems={problems} />
      <p class="buttons">
        <EditButton edit={`add-row:${at}`} label={t.addRow} />
        {!group.schedule && <EditButton edit={`add-schedule:${at}`} label={t.addSchedule} />}
        {nest && <EditButton edit={`add-any:${at}`} label={t.addAny} />}
        {nest && !group.not && <EditButton edit={`add-not:${at}`} label={t.addNot} />}
        {props.remove}
      </p>
      {group.schedule && (
        <SchedulePicker t={t} s={group.schedule} at={at} problems={problems} zones={props.zones} />
      )}
      {group.any.length > 0 && (
        <div class="any">
          <p class="sub">{t.anyHelp}</p>
          {group.any.map((sub, i) => (
            <Group
              t={t}
              group={sub}
              at={names.any(at, i)}
              title={fill(t.alternative, { n: i + 1 })}
              problems={problems}
              zones={props.zones}
              depth={props.depth + 1}
              remove={<EditButton edit={`remove-any:${names.any(at, i)}`} label={t.removeGroup} />}
            />
          ))}
        </div>
      )}
      {group.not && (
        <Group
          t={t}
          group={group.not}
          at={names.not(at)}
          title={t.exceptWhen}
          problems={problems}
          zones={props.zones}
          depth={props.depth + 1}
          remove={<EditButton edit={`remove-not:${names.not(at)}`} label={t.removeNot} />}
        />
      )}
    </fieldset>
  );
}

function languageLabel(t: Dict, language: ReplyLanguage): string {
  return { pt: t.langPt, en: t.langEn, es: t.langEs }[language];
}

function ReplyFields(props: { t: Dict; form: RuleForm; problems: FieldProblems }) {
  const { t, form, problems } = props;
  const r = form.reply;
  return (
    <fieldset class="reply">
      <legend>{t.replyTitle}</legend>
      <label>
        {t.replyTarget}
        <select name="reply.to" {...invalid(problems, "reply.to")}>
          <option value="sender" selected={r.to === "sender"}>{t.toSender}</option>
          <option value="original_sender" selected={r.to === "original_sender"}>
            {t.toOriginalSender}
          </option>
        </select>
        <FieldError problems={problems} name="reply.to" />
      </label>
      <TextInput problems={problems} name="reply.subject" value={r.subject} label={t.subject} />
      <TextArea problems={problems} name="reply.text" value={r.text} label={t.replyText} rows={6} />
      <TextArea problems={problems} name="reply.html" value={r.html} label={t.replyHtml} rows={3} />
      <Checkbox name="reply.force" checked={r.force} label={t.replyForce} />
      <TextInput problems={problems} name="reply.cc" value={r.cc} label={t.replyCc} />
      <TextInput problems={problems} name="reply.bcc" value={r.bcc} label={t.replyBcc} />
      <TextInput
        problems={problems}
        name="reply.reply_to"
        value={r.replyTo}
        label={t.replyReplyTo}
      />
      <TextInput
        problems={problems}
        name="reply.locale"
        value={r.locale}
        label={t.replyLocale}
        placeholder="pt-BR"
      />
      <h3>{t.replyVariants}</h3>
      {REPLY_LANGUAGES.map((language) => {
        const v = r.variants[language];
        const used = v.subject !== "" || v.text !== "" || v.html !== "" || v.locale !== "";
        const n = (part: "subject" | "text" | "html" | "locale") => names.variant(language, part);
        const wrong = ["subject", "text", "html", "locale"].some((p) =>
          problems.has(n(p as "text"))
        );
        return (
          <details class="variant" open={used || wrong} data-language={language}>
            <summary>{languageLabel(t, language)}</summary>
            <TextInput
              problems={problems}
              name={n("subject")}
              value={v.subject}
              label={t.variantSubject}
            />
            <TextArea
              problems={problems}
              name={n("text")}
              value={v.text}
              label={t.replyText}
              rows={4}
            />
            <TextArea
              problems={problems}
              name={n("html")}
              value={v.html}
              label={t.replyHtml}
              rows={2}
            />
            <TextInput
              problems={problems}
              name={n("locale")}
              value={v.locale}
              label={t.variantLocale}
            />
          </details>
        );
      })}
    </fieldset>
  );
}

function LimitFields(props: { t: Dict; form: RuleForm; problems: FieldProblems }) {
  const { t, problems } = props;
  const l = props.form.limits;
  const used = l.window !== "" || l.coolDown !== "" || l.coolDownManual || l.breakers.length > 0;
  const wrong = [...problems.keys()].some((k) => k.startsWith("limits."));
  return (
    <details class="limits" open={used || wrong}>
      <summary>{t.limitsTitle}</summary>
      <TextInput
        problems={problems}
        name="limits.window_seconds"
        value={l.window}
        label={t.limitsWindow}
        placeholder="604800"
      />
      <TextInput
        problems={problems}
        name="limits.cool_down_seconds"
        value={l.coolDown}
        label={t.limitsCoolDown}
        placeholder="3600"
      />
      <Checkbox name="limits.cool_down_manual" checked={l.coolDownManual} label={t.limitsManual} />
      <h3>{t.breakersTitle}</h3>
      {l.breakers.length > 0 && (
        <table class="breakers">
          <thead>
            <tr>
              <th>{t.breakerScope}</th>
              <th>{t.breakerMax}</th>
              <th>{t.breakerWithin}</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {l.breakers.map((b, i) => (
              <tr>
                <td>
                  <select name={names.breaker(i, "scope")}>
                    <option value="recipient" selected={b.scope === "recipient"}>
                      {t.scopeRecipient}
                    </option>
                    <option value="account" selected={b.scope === "account"}>
                      {t.scopeAccount}
                    </option>
                  </select>
                  <FieldError problems={problems} name={names.breaker(i, "scope")} />
                </td>
                <td>
                  <TextInput
                    problems={problems}
                    name={names.breaker(i, "max")}
                    value={b.max}
                    size={6}
                  />
                </td>
                <td>
                  <TextInput
                    problems={problems}
                    name={names.breaker(i, "within")}
                    value={b.within}
                    size={8}
                  />
                </td>
                <td>
                  <EditButton edit={`remove-breaker:${i}`} label={t.removeRow} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p>
        <EditButton edit="add-breaker" label={t.addBreaker} />
      </p>
    </details>
  );
}

/** The whole form of one rule. */
export function RuleFormFields(
  props: { t: Dict; form: RuleForm; problems: FieldProblems; zones: string[] },
) {
  const { t, form, problems } = props;
  return (
    <div class="rule-form">
      <TextInput problems={problems} name="name" value={form.name} label={t.name} />
      <div class="inline-form">
        <Checkbox name="enabled" checked={form.enabled} label={t.enabled} />
        <TextInput
          problems={problems}
          name="priority"
          value={form.priority}
          label={t.priority}
          type="number"
          size={8}
        />
        <TextInput
          problems={problems}
          name="active_from"
          value={form.activeFrom}
          label={t.activeFrom}
          type="date"
        />
        <TextInput
          problems={problems}
          name="active_until"
          value={form.activeUntil}
          label={t.activeUntil}
          type="date"
        />
      </div>
      <Group
        t={t}
        group={form.when}
        at={ROOT_GROUP}
        title={t.whenAll}
        problems={problems}
        zones={props.zones}
        depth={0}
      />
      <p class="sub">
        {t.neverAnswerNote} <a href="/exceptions">{t.exceptions}</a>
      </p>
      <fieldset class="action">
        <legend>{t.ruleAction}</legend>
        <label class="check">
          <input type="radio" name="action" value="reply" checked={form.action === "reply"} />{" "}
          {t.actionReply}
        </label>
        <label class="check">
          <input type="radio" name="action" value="ignore" checked={form.action === "ignore"} />
          {" "}
          {t.actionIgnore}
        </label>
      </fieldset>
      <ReplyFields t={t} form={form} problems={problems} />
      <LimitFields t={t} form={form} problems={problems} />
    </div>
  );
}
