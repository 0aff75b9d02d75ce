/**
 * The accounts table of `/accounts`: each account with its health (last successful sync, lag,
 * the IMAP IDLE state a running instance reports, the progress of a collection under way,
 * failures in a row, the last error), its send budget and a refused SMTP login, and its "test
 * connection" button.
 */
import { type Dict, fill } from "./i18n.ts";
import { CsrfField } from "./layout.tsx";
import { When } from "./render.tsx";
import { fmtAgo, fmtDate } from "./viewer_time.ts";
import { type Column, ListTable } from "./list_view.tsx";
import type { AccountView } from "../src/store/accounts_admin.ts";
import { effectiveBudget, type Provider, type SendBudget } from "../src/domain/send_budget.ts";
import { providerLabel, ReconnectButton } from "./oauth.tsx";
import {
  type AccountHealth,
  type CollectProgress,
  healthOf,
  type IdleStatus,
  lagSeconds,
  type MailboxWatch,
} from "../src/store/account_health.ts";

function lag(now: Date, a: AccountView, t: Dict): string {
  return fmtLag(lagSeconds(a.lastSyncAt, now), t);
}

/** A lag as the admin reads it ("2 minutes ago", "há 2 minutos"); "—" when never synced. */
export function fmtLag(s: number | null, t: Dict): string {
  return s === null ? "—" : fmtAgo(s, t);
}

/** 100000 → "100 000": groups of three, the same in both languages. */
export function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, " ");
}

function idleStateLabel(t: Dict, state: string): string {
  switch (state) {
    case "idle":
      return t.idleListening;
    case "connecting":
      return t.idleConnecting;
    case "backoff":
      return t.idleBackoff;
    case "unsupported":
      return t.idleUnsupported;
    case "stopped":
      return t.idleStopped;
    case "missing":
      return t.idleMissing;
    default:
      return state;
  }
}

/** The IDLE watcher's state with since when, on which instance, and its failures. */
export function IdleState(props: { t: Dict; idle: IdleStatus | null }) {
  const { t, idle } = props;
  if (!idle) return <>{t.idleNotReported}</>;
  return (
    <>
      {idleStateLabel(t, idle.state)}
      <div class="sub">
        {fill(t.idleSinceOn, { at: fmtDate(idle.since, t), instance: idle.instance })}
      </div>
      {idle.consecutiveFailures > 0 && (
        <div class="sub error">
          {fill(t.idleFailures, { n: idle.consecutiveFailures })}
          {idle.lastError ? `: ${idle.lastError}` : ""}
        </div>
      )}
    </>
  );
}

/** Each configured mailbox: who watches it with IDLE, or that the minute cron alone collects it. */
function MailboxWatches(props: { t: Dict; mailboxes: MailboxWatch[]; cap: number | null }) {
  const { t, mailboxes, cap } = props;
  if (mailboxes.length === 0) return null;
  return (
    <ul class="sub idle-mailboxes">
      {mailboxes.map((m) => {
        if (m.mode === "cron") {
          return (
            <li class="idle-cron" key={m.mailbox}>
              {fill(t.idleMailboxCron, { mailbox: m.mailbox, cap: String(cap ?? "") })}
            </li>
          );
        }
        if (!m.holder) {
          return (
            <li class="idle-free" key={m.mailbox}>
              {fill(t.idleMailboxFree, { mailbox: m.mailbox })}
            </li>
          );
        }
        return (
          <li
            class={`idle-${m.state ?? "connecting"}${m.state === "missing" ? " error" : ""}`}
            key={m.mailbox}
          >
            {fill(t.idleMailboxHeld, {
              mailbox: m.mailbox,
              state: idleStateLabel(t, m.state ?? "connecting"),
              holder: m.holder,
            })}
            {m.state === "missing" && m.lastError ? `: ${m.lastError}` : ""}
          </li>
        );
      })}
    </ul>
  );
}

function ProgressLine(props: { t: Dict; progress: CollectProgress }) {
  const p = props.progress;
  return (
    <div class="sub progress" hx-disable>
      <span class="nowrap">
        {fill(props.t.collecting, {
          mailbox: p.mailbox,
          done: groupDigits(p.done),
          total: groupDigits(p.total),
        })}
      </span>{" "}
      <progress value={p.done} max={Math.max(1, p.total)}></progress>
    </div>
  );
}

const PROVIDER_NAMES: Record<Provider, string> = {
  gmail: "Gmail",
  workspace: "Google Workspace",
  exchange_online: "Exchange Online",
  other: "",
};

function budgetText(t: Dict, b: SendBudget | null): string {
  const parts: string[] = [];
  if (b?.perMinute) parts.push(fill(t.budgetPerMinute, { n: groupDigits(b.perMinute) }));
  if (b?.perDay) parts.push(fill(t.budgetPerDay, { n: groupDigits(b.perDay) }));
  return parts.join(", ") || t.budgetNone;
}

/** The budget in force and, while the SMTP server refuses the login, what it said. */
function Sending(props: { t: Dict; a: AccountView; smtpHost: string | null }) {
  const { t, a } = props;
  const { budget, source, provider } = effectiveBudget(a.sendBudget, props.smtpHost, a.address);
  const text = budgetText(t, budget);
  return (
    <>
      {source === "default" && budget
        ? fill(t.budgetDefault, { budget: text, provider: PROVIDER_NAMES[provider] })
        : text}
      {a.smtpAuthFailure && (
        <div class="sub error smtp-auth-failure">
          {fill(t.smtpAuthRefused, {
            at: fmtDate(a.smtpAuthFailureAt, t),
            error: a.smtpAuthFailure,
          })}
        </div>
      )}
    </>
  );
}

function accountColumns(
  t: Dict,
  health: (a: AccountView) => AccountHealth,
  now: Date,
  csrf: string,
  smtpHost: (a: AccountView) => string | null,
): Column<AccountView>[] {
  return [
    {
      label: t.name,
      cell: (a) => (
        <>
          <a href={`/accounts/${a.id}`}>{a.name}</a>
          {a.source === "env" && <div class="sub">env</div>}
        </>
      ),
    },
    { label: t.address, cell: (a) => a.address },
    { label: t.imap, cell: (a) => `${a.imapUser}@${a.imapHost}:${a.imapPort}` },
    {
      label: t.status,
      cell: (a) => (
        <>
          {a.enabled ? t.enabled : t.disabled}
          {a.authKind === "oauth" && (
            <div class="sub">
              {fill(t.signInWith, {
                provider: providerLabel(a.oauthProvider ?? ""),
                identity: a.oauthIdentity ?? "",
              })}
            </div>
          )}
          {a.reauthorizationNeeded && (
            <div class="error reauthorization-needed" title={a.reauthorizationReason ?? ""}>
              {t.reauthorizationNeeded}
            </div>
          )}
        </>
      ),
    },
    {
      label: t.lastSync,
      cell: (a) => {
        const progress = health(a).progress;
        return (
          <>
            <span class="nowrap">{a.lastSyncAt ? <When at={a.lastSyncAt} t={t} /> : t.never}</span>
            {progress && <ProgressLine t={t} progress={progress} />}
          </>
        );
      },
    },
    { label: t.lag, cell: (a) => lag(now, a, t) },
    {
      label: t.idleColumn,
      class: (a) => `idle-${health(a).idle?.state ?? "none"}`,
      inert: true,
      cell: (a) => (
        <>
          <IdleState t={t} idle={health(a).idle} />
          <MailboxWatches t={t} mailboxes={health(a).mailboxes} cap={health(a).connectionCap} />
        </>
      ),
    },
    { label: t.failuresInARow, cell: (a) => a.consecutiveFailures },
    {
      label: t.sendingColumn,
      inert: true,
      cell: (a) => <Sending t={t} a={a} smtpHost={smtpHost(a)} />,
    },
    {
      label: t.lastErrorAt,
      class: "error",
      inert: true,
      cell: (a) => (
        <>
          {a.lastError ? `${fmtDate(a.lastErrorAt, t)}: ${a.lastError}` : ""}
          {health(a).mailboxProblems.map((p) => (
            <div class="mailbox-problem" key={p.mailbox}>
              {fill(t.mailboxUnavailable, { mailbox: p.mailbox, since: fmtDate(p.since, t) })}:{" "}
              {p.error}
            </div>
          ))}
        </>
      ),
    },
    { label: t.messages, cell: (a) => a.messages },
    {
      label: t.actions,
      cell: (a) => (
        <>
          <TestButton t={t} id={a.id} csrf={csrf} />{" "}
          <a href={`/accounts/${a.id}/settings`}>{t.replySettings}</a>
          {a.authKind === "oauth" && <ReconnectButton t={t} id={a.id} csrf={csrf} />}
        </>
      ),
    },
  ];
}

/**
 * The accounts and their health: the `#accounts-table` fragment, which reloads itself every few
 * seconds while a collection runs.
 */
export function AccountsTable(
  props: {
    t: Dict;
    rows: AccountView[];
    health: Map<number, AccountHealth>;
    now: Date;
    csrf: string;
    /** The environment's account's SMTP host, which its row does not hold. */
    envSmtpHost: { accountId: number; host: string } | null;
  },
) {
  const health = (a: AccountView) => healthOf(props.health, a.id);
  const env = props.envSmtpHost;
  const smtpHost = (a: AccountView) => (a.id === env?.accountId ? env.host : a.smtpHost);
  // While a collection runs, the table reloads itself every few seconds to show its progress.
  const running = props.rows.some((a) => health(a).progress !== null);
  const poll = running
    ? { "hx-get": "/accounts", "hx-trigger": "every 5s", "hx-swap": "outerHTML" }
    : {};
  return (
    <ListTable
      class="list accounts"
      id="accounts-table"
      attrs={poll}
      columns={accountColumns(props.t, health, props.now, props.csrf, smtpHost)}
      rows={props.rows}
      rowAttrs={(a) => ({ id: `account-${a.id}` })}
    />
  );
}

/** "Test connection" for one account; its answer replaces the `#test-{id}` span. */
export function TestButton(props: { t: Dict; id: number; csrf: string }) {
  return (
    <form
      method="post"
      action={`/accounts/${props.id}/test`}
      class="inline"
      hx-post={`/accounts/${props.id}/test`}
      hx-target={`#test-${props.id}`}
      hx-swap="outerHTML"
    >
      <CsrfField token={props.csrf} />
      <button type="submit">{props.t.testConnection}</button>
      <span id={`test-${props.id}`}></span>
    </form>
  );
}
