/**
 * How the rule editor shows what a rule would do, without sending anything: the outcome of a
 * preview on one stored message, and what a dry-run over the last N days found.
 */
import type { Dict } from "./i18n.ts";
import { fill, reasonName, say } from "./i18n.ts";
import { Problems } from "./layout.tsx";
import { When } from "./render.tsx";
import { type Column, ListTable } from "./list_view.tsx";
import type { RateLimitPolicy } from "../src/domain/rate_limit.ts";
import type { RuleTrailEntry } from "../src/domain/rules.ts";
import {
  DRY_RUN_MAX_MESSAGES,
  type DryRunItem,
  type DryRunReport,
  type RuleOutcome,
} from "../src/admin/rule_simulation.ts";

function OutcomeView(props: { t: Dict; o: RuleOutcome }) {
  const { t, o } = props;
  switch (o.outcome) {
    case "reply":
      return (
        <div class="reply-preview" hx-disable>
          <p>
            <span class="badge reply">{t.wouldReply}</span> {t.to}: <b>{o.recipient}</b>
            {o.cc.length > 0 && ` · Cc: ${o.cc.join(", ")}`}
            {o.bcc.length > 0 && ` · Bcc: ${o.bcc.join(", ")}`}
          </p>
          <p>
            {t.subject}: <b>{o.subject}</b>
          </p>
          <pre class="mailtext">{o.text}</pre>
        </div>
      );
    case "suppressed":
      return (
        <p hx-disable>
          <span class="badge suppressed">{t.wouldSuppress}</span> {reasonName(t, o.reason)}{" "}
          (<code>{o.reason}</code>) — {say(t, o.detail)}
        </p>
      );
    case "ignored":
      return (
        <p>
          <span class="badge ignored">{t.ignoredBy}</span>
        </p>
      );
    case "other_rule":
      return (
        <p hx-disable>
          {t.takenBy}: <b>{o.rule}</b>
        </p>
      );
    case "no_match":
      return (
        <p hx-disable>
          <span class="badge no_rule">{t.noMatch}</span> {say(t, o.why)}
        </p>
      );
  }
}

/** What else a preview tells: the message, the rule's Reply-To, and the limits in force. */
export interface PreviewFacts {
  messageId: number;
  replyTo: string | null;
  /** The rate window and breakers for this message's account and the rule. */
  limits: RateLimitPolicy;
}

/** Seconds as the largest whole unit: "7 d", "1 h", "10 min", "45 s". */
function span(seconds: number): string {
  for (const [unit, size] of [["d", 86_400], ["h", 3_600], ["min", 60]] as const) {
    if (seconds % size === 0) return `${seconds / size} ${unit}`;
  }
  return `${seconds} s`;
}

function Trail(props: { t: Dict; trail: RuleTrailEntry[] }) {
  if (props.trail.length === 0) return null;
  return (
    <details class="trail" hx-disable>
      <summary>{props.t.decisionTrail}</summary>
      <ul>
        {props.trail.map((e) => (
          <li>
            <span class={`badge ${e.hit ? "reply" : "no_rule"}`}>{e.hit ? "✓" : "✗"}</span>{" "}
            <b>{e.rule}</b>: {e.why}
          </li>
        ))}
      </ul>
    </details>
  );
}

function Limits(props: { t: Dict; facts: PreviewFacts }) {
  const { t, facts } = props;
  const l = facts.limits;
  const breakers = l.breakers.map((b) =>
    fill(b.scope === "recipient" ? t.breakerRecipientLine : t.breakerAccountLine, {
      max: b.max,
      within: span(b.withinSeconds),
    })
  ).join("; ");
  return (
    <div class="preview-limits" hx-disable>
      <p>
        {t.previewMessage}: <a href={`/messages/${facts.messageId}`}>#{facts.messageId}</a>
        {facts.replyTo && (
          <>
            {" · "}Reply-To: <b>{facts.replyTo}</b>
          </>
        )}
      </p>
      <p>
        {fill(t.previewLimits, {
          window: span(l.windowSeconds),
          breakers,
          cool: l.coolDownSeconds === null ? t.coolDownManual : span(l.coolDownSeconds),
        })}
      </p>
      <p class="sub">{t.previewLimitsNote}</p>
    </div>
  );
}

/** The preview of a rule on one stored message: the `#preview` fragment. */
export function PreviewSection(
  props: { t: Dict; outcome?: RuleOutcome; errors?: string[]; facts?: PreviewFacts },
) {
  return (
    <section id="preview">
      <Problems t={props.t} errors={props.errors ?? []} />
      {props.outcome && <OutcomeView t={props.t} o={props.outcome} />}
      {props.facts && <Limits t={props.t} facts={props.facts} />}
      {props.outcome && <Trail t={props.t} trail={props.outcome.trail} />}
    </section>
  );
}

function dryRunColumns(t: Dict): Column<DryRunItem>[] {
  return [
    { label: t.received, class: "nowrap", cell: (i) => <When at={i.receivedAt} t={t} /> },
    {
      label: t.subject,
      cell: (i) => <a href={`/messages/${i.messageId}`}>{i.subject || t.noSubject}</a>,
    },
    { label: t.from, cell: (i) => i.from ?? "" },
    {
      label: t.decision,
      cell: (i) => (
        <>
          {i.result.outcome === "reply" && <>→ {i.result.recipient}</>}
          {i.result.outcome === "suppressed" && (
            <>
              {reasonName(t, i.result.reason)} (<code>{i.result.reason}</code>):{" "}
              {say(t, i.result.detail)}
            </>
          )}
          {i.result.outcome === "other_rule" && <>{i.result.rule}</>}
        </>
      ),
    },
  ];
}

/** The messages of one outcome of a dry-run (the first 200), under a heading with their count. */
export function DryRunList(props: { t: Dict; title: string; items: DryRunItem[]; kind: string }) {
  if (props.items.length === 0) return null;
  return (
    <>
      <h3>{props.title} ({props.items.length})</h3>
      <ListTable
        class={`list dry-run ${props.kind}`}
        inert
        head={false}
        columns={dryRunColumns(props.t)}
        rows={props.items.slice(0, 200)}
      />
    </>
  );
}

/** A dry-run's report over the last N days (`#dry-run`). */
export function DryRunSection(
  props: { t: Dict; days?: number; report?: DryRunReport; errors?: string[]; capped?: boolean },
) {
  const { t, report } = props;
  return (
    <section id="dry-run">
      <Problems t={t} errors={props.errors ?? []} />
      {report && (
        <>
          <h2>{fill(t.dryRunTitle, { days: props.days ?? 0 })}</h2>
          <p class="summary">
            {fill(t.dryRunSummary, {
              examined: report.examined,
              replied: report.replied.length,
              suppressed: report.suppressed.length,
              other: report.otherRule.length,
              unmatched: report.unmatched,
            })}
            {props.capped ? ` ${fill(t.dryRunCapped, { n: DRY_RUN_MAX_MESSAGES })}` : ""}
          </p>
          {report.stoppedAtBudget && (
            <p class="problems stopped" role="status">
              {fill(t.dryRunStopped, {
                examined: report.examined,
                total: report.total,
                seconds: (report.elapsedMs / 1000).toFixed(1),
              })}
            </p>
          )}
          <p class="sub">{t.dryRunNote}</p>
          <DryRunList t={t} title={t.wouldReply} items={report.replied} kind="replied" />
          <DryRunList t={t} title={t.wouldSuppress} items={report.suppressed} kind="suppressed" />
          <DryRunList t={t} title={t.ignoredBy} items={report.ignored} kind="ignored" />
          <DryRunList t={t} title={t.takenBy} items={report.otherRule} kind="other" />
        </>
      )}
    </section>
  );
}
