// Rendered once on the server, never reconciled: list items need no `key` (which hono/jsx
// would print as an attribute).
// deno-lint-ignore-file jsx-key
/**
 * `/messages`: the list with filters and full-text search (each change an htmx request for the
 * results fragment, the URL pushed so that back and shared links restore the view), and
 * `/messages/:id`: headers, classification (with a manual correction), text, the HTML in a
 * sandboxed frame, attachments, raw source, the decision trail and the outbox rows.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { type Dict, fill, outboxStatusName, reasonName, say } from "./i18n.ts";
import { CsrfField, Problems } from "./layout.tsx";
import { SentCopyNote } from "./sent_copy_note.tsx";
import { idParam, respond, When } from "./render.tsx";
import { fmtDate } from "./viewer_time.ts";
import { Params } from "./params.ts";
import { fullPageRedirect, wantsFragment } from "./htmx.ts";
import { remoteImagesAllowed, remoteImagesKey } from "./remote_images.ts";
import { type MessageQuery, parseMessageQuery, readList } from "./list_queries.ts";
import { ExportLinks, messageExportHandler } from "./exports.tsx";
import {
  type Column,
  type FilterField,
  FilterForm,
  ListTable,
  ListView,
  respondList,
} from "./list_view.tsx";
import {
  encodeCursor,
  listMessages,
  type MessageListRow,
  type MessagePage,
  REPLY_STATUSES,
} from "../src/store/message_list.ts";
import {
  getMessageDetail,
  getRawMessage,
  type MessageDetail,
} from "../src/store/message_detail.ts";
import { listAccounts } from "../src/store/accounts.ts";
import type { DeliveryReportFields } from "../src/store/outbox_admin.ts";
import { correctClassification, correctionProblems } from "../src/actions/messages.ts";
import { problemLines } from "../src/actions/result.ts";
import type { Address } from "../src/domain/email.ts";

type AccountChoice = { id: number; name: string };

export function filterFields(t: Dict, accounts: AccountChoice[]): FilterField[] {
  return [
    {
      type: "search",
      name: "q",
      label: t.search,
      placeholder: t.searchPlaceholder,
      maxlength: 500,
    },
    {
      type: "select",
      name: "account",
      label: t.account,
      options: accounts.map((a) => [String(a.id), a.name] as const),
    },
    {
      type: "select",
      name: "kind",
      label: t.kind,
      options: [["forwarded", t.forwarded], ["direct", t.direct]],
    },
    {
      type: "select",
      name: "reply",
      label: t.replyStatus,
      options: REPLY_STATUSES.map((r) => [r, t[`reply_${r}`]] as const),
    },
    { type: "date", name: "since", label: t.since },
    { type: "date", name: "until", label: t.until },
    { type: "check", name: "unparsed", label: t.unparsed },
  ];
}

function who(address: string | null, name: string | null): string {
  if (!address) return "—";
  return name ? `${name} <${address}>` : address;
}

function messageColumns(t: Dict): Column<MessageListRow>[] {
  return [
    { label: t.received, class: "nowrap", cell: (m) => <When at={m.receivedAt} t={t} /> },
    { label: t.account, cell: (m) => m.accountName ?? t.deletedAccount },
    { label: t.from, cell: (m) => who(m.fromAddress, m.fromName) },
    {
      label: t.subject,
      cell: (m) => (
        <>
          <a href={`/messages/${m.id}`}>{m.subject || t.noSubject}</a>
          {m.parseStatus !== "parsed" && <span class="badge bad">{m.parseStatus}</span>}
          {m.kind === "forwarded" && m.originalFromAddress && (
            <div class="sub">↪ {m.originalFromAddress}</div>
          )}
        </>
      ),
    },
    { label: t.kind, cell: (m) => (m.kind ? t[m.kind] : "—") },
    {
      label: t.replyStatus,
      cell: (m) => (
        <>
          <span class={`badge ${m.decision}`}>{t[`reply_${m.decision}`]}</span>
          {m.reason && <div class="sub">{reasonName(t, m.reason)}</div>}
          {m.outboxStatus && <div class="sub">→ {outboxStatusName(t, m.outboxStatus)}</div>}
        </>
      ),
    },
  ];
}

/** The results fragment: the page and the htmx target render the same component. */
export function MessageResults(
  props: { t: Dict; query: MessageQuery; page: MessagePage | null },
) {
  const { t, query, page } = props;
  return (
    <ListView
      t={t}
      id="results"
      errors={query.errors}
      top={
        <ExportLinks
          t={t}
          path="/messages/export"
          query={query}
          formats={["mbox", "zip", "csv"]}
        />
      }
      rows={page?.rows ?? null}
      empty={t.noMessages}
      table={{
        class: "list messages",
        inert: true,
        columns: messageColumns(t),
        rowAttrs: (m) => ({ "data-id": String(m.id) }),
      }}
      pager={{
        path: "/messages",
        query,
        next: page?.next ? encodeCursor(page.next) : null,
        htmx: true,
      }}
    />
  );
}

/** A `<dt>`/`<dd>` pair of addresses; none when `always` is false and the list is empty. */
function AddressFact(props: { label: string; list: Address[]; always?: boolean }) {
  if (!props.always && props.list.length === 0) return null;
  return (
    <>
      <dt>{props.label}</dt>
      <dd>{props.list.map((a) => who(a.address, a.name)).join(", ") || "—"}</dd>
    </>
  );
}

function ClassificationSection(
  props: { t: Dict; m: MessageDetail; csrf: string; errors?: string[] },
) {
  const { t, m } = props;
  const text = (name: string, placeholder: string, value: string | null, max: number) => (
    <input type="text" name={name} placeholder={placeholder} value={value ?? ""} maxlength={max} />
  );
  return (
    <section id="classification">
      <h2>{t.classification}</h2>
      <dl class="facts" hx-disable>
        <dt>{t.kind}</dt>
        <dd>{m.kind ? t[m.kind] : "—"}</dd>
        <dt>{t.confidence}</dt>
        <dd>{m.confidence === null ? "—" : m.confidence.toFixed(2)}</dd>
        {m.kind === "forwarded" && (
          <>
            <dt>{t.originalSender}</dt>
            <dd>{who(m.original.fromAddress, m.original.fromName)}</dd>
            <dt>{t.originalSubject}</dt>
            <dd>{m.original.subject ?? "—"}</dd>
          </>
        )}
        <dt>{t.evidence}</dt>
        <dd>
          <ul>{m.evidence.map((e) => <li>{say(t, e)}</li>)}</ul>
        </dd>
      </dl>
      {m.parseStatus === "parsed" && (
        <details open={(props.errors?.length ?? 0) > 0}>
          <summary>{t.override}</summary>
          <Problems t={t} errors={props.errors ?? []} />
          <form
            method="post"
            action={`/messages/${m.id}/classification`}
            hx-post={`/messages/${m.id}/classification`}
            hx-target="#classification"
            hx-swap="outerHTML"
            class="inline-form"
          >
            <CsrfField token={props.csrf} />
            <select name="kind">
              <option value="direct" selected={m.kind === "direct"}>{t.direct}</option>
              <option value="forwarded" selected={m.kind === "forwarded"}>{t.forwarded}</option>
            </select>
            {text("original_from_address", t.originalSender, m.original.fromAddress, 320)}
            {text("original_from_name", t.name, m.original.fromName, 200)}
            <button type="submit">{t.save}</button>
          </form>
        </details>
      )}
    </section>
  );
}

/** The message's header fields, one a row, as they came. */
const HEADER_COLUMNS: readonly Column<readonly [string, string]>[] = [
  { label: "", rowHeader: true, cell: ([k]) => k },
  { label: "", cell: ([, v]) => v },
];

function outboxColumns(t: Dict): Column<MessageDetail["outbox"][number]>[] {
  return [
    { label: "#", cell: (o) => <a href={`/outbox?status=${o.status}#outbox-${o.id}`}>{o.id}</a> },
    {
      label: t.status,
      cell: (o) => (
        <>
          <span class={`badge ${o.status}`}>{outboxStatusName(t, o.status)}</span>
          <SentCopyNote t={t} copy={o.sentCopy} />
        </>
      ),
    },
    { label: t.recipient, cell: (o) => o.recipient },
    { label: t.subject, cell: (o) => o.subject },
    { label: t.attempts, cell: (o) => o.attempts },
    { label: t.lastError, cell: (o) => say(t, o.lastError ?? "") },
    {
      label: t.deliveryReport,
      cell: (o) => o.report ? <ReportFacts t={t} report={o.report} link /> : "",
    },
  ];
}

/**
 * What a delivery status notification said of a reply: Action, Status, Diagnostic-Code, and a
 * link to the notification itself when `link`.
 */
function ReportFacts(props: { t: Dict; report: DeliveryReportFields; link?: boolean }) {
  const { t, report: r } = props;
  return (
    <span class="report" data-report-action={r.action}>
      {t.dsnAction}: <code>{r.action}</code>
      {r.status && (
        <>
          {" "}· {t.status}: <code>{r.status}</code>
        </>
      )} · <When at={r.at} t={t} />
      {r.diagnostic && <div class="sub">{t.diagnostic}: {r.diagnostic}</div>}
      {props.link && r.messageId !== null && (
        <div class="sub">
          <a href={`/messages/${r.messageId}`}>{t.reportMessage} #{r.messageId}</a>
        </div>
      )}
    </span>
  );
}

/** On a delivery status notification's own page: the replies of ours it reports on. */
function ReportForSection(props: { t: Dict; m: MessageDetail }) {
  const { t, m } = props;
  if (m.reportFor.length === 0) return null;
  return (
    <section id="delivery-report">
      <h2>{t.deliveryReport}</h2>
      <p>{t.deliveryReportFor}:</p>
      <ul hx-disable>
        {m.reportFor.map((r) => (
          <li>
            {t.reportedReply}{" "}
            <a href={`/outbox?status=${r.status}#outbox-${r.outboxId}`}>#{r.outboxId}</a>{" "}
            <span class={`badge ${r.status}`}>{outboxStatusName(t, r.status)}</span> → {r.recipient}
            {r.messageId !== null && (
              <>
                {" "}({t.answering} <a href={`/messages/${r.messageId}`}>#{r.messageId}</a>)
              </>
            )}
            <div>
              <ReportFacts t={t} report={r.report} />
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

function afterActionLabel(t: Dict, a: NonNullable<MessageDetail["afterProcessing"]>): string {
  if (a.action === "seen") return t.afterActionSeen;
  if (a.action === "move") return fill(t.afterActionMove, { folder: a.folder ?? "" });
  return "";
}

/** Where the message stands with the account's after-processing setting. */
function afterStateLabel(t: Dict, a: NonNullable<MessageDetail["afterProcessing"]>): string {
  const action = afterActionLabel(t, a);
  const state = a.state === "done"
    ? fill(t.afterDone, { at: fmtDate(a.at, t) })
    : a.state === "failed"
    ? fill(t.afterFailedNote, { n: a.attempts })
    : t.afterPending;
  return action ? `${action}: ${state}` : state;
}

function MessagePage(
  props: { t: Dict; m: MessageDetail; csrf: string; images: string | null; errors?: string[] },
) {
  const { t, m } = props;
  const htmlSrc = `/messages/${m.id}/html${props.images ? `?images=${props.images}` : ""}`;
  return (
    <article class="message">
      <h1 hx-disable>{m.subject || t.noSubject}</h1>
      {m.parseStatus === "failed" && (
        <p class="problems" hx-disable>{t.parseFailed}: {m.parseError}</p>
      )}
      {m.afterProcessing?.state === "failed" && (
        <p class="problems after-failed" hx-disable>
          {t.afterFailed} ({afterActionLabel(t, m.afterProcessing)}): {m.afterProcessing.error}
        </p>
      )}
      <section>
        <h2>{t.headers}</h2>
        <dl class="facts" hx-disable>
          <AddressFact label={t.from} list={m.from} always />
          <AddressFact label={t.to} list={m.to} always />
          <AddressFact label={t.cc} list={m.cc} />
          <AddressFact label={t.replyTo} list={m.replyTo} />
          <dt>{t.received}</dt>
          <dd>
            <When at={m.receivedAt} t={t} />
          </dd>
          <dt>{t.account}</dt>
          <dd>{m.accountName ?? t.deletedAccount} · {m.mailbox} · UID {m.uid}</dd>
          {m.afterProcessing && (
            <>
              <dt>{t.afterProcessing}</dt>
              <dd class={`after-${m.afterProcessing.state}`}>
                {afterStateLabel(t, m.afterProcessing)}
              </dd>
            </>
          )}
          <dt>Message-ID</dt>
          <dd>{m.messageIdHeader ?? "—"}</dd>
        </dl>
        <details>
          <summary>{t.headers} ({Object.keys(m.headers).length})</summary>
          <ListTable
            class="headers"
            inert
            head={false}
            columns={HEADER_COLUMNS}
            rows={Object.entries(m.headers).flatMap(([k, vs]) => vs.map((v) => [k, v] as const))}
          />
        </details>
        <p>
          {m.rawPurgedAt
            ? (
              <span class="sub raw-purged">
                {t.rawSource}: {t.rawPurged} ({fmtDate(m.rawPurgedAt, t)})
              </span>
            )
            : <a href={`/messages/${m.id}/raw`} download>{t.rawSource}</a>}
        </p>
      </section>
      <ReportForSection t={t} m={m} />
      <ClassificationSection t={t} m={m} csrf={props.csrf} errors={props.errors} />
      <section>
        <h2>{t.decision}</h2>
        {m.decision
          ? (
            <div hx-disable>
              <p>
                <span class={`badge ${m.decision.outcome}`}>
                  {t[`reply_${m.decision.outcome}` as keyof Dict] ?? m.decision.outcome}
                </span>{" "}
                {m.decision.ruleName && (
                  <>
                    {t.rule}: <b>{m.decision.ruleName}</b>
                  </>
                )} {m.decision.reason && (
                  <>
                    · {t.reason}: {reasonName(t, m.decision.reason)}{" "}
                    (<code>{m.decision.reason}</code>)
                  </>
                )} · <When at={m.decision.decidedAt} t={t} />
              </p>
              {m.decision.reason && `reason_${m.decision.reason}` in t && (
                <p>{t[`reason_${m.decision.reason}` as keyof Dict]}</p>
              )}
              {m.decision.detail && <p class="sub">{say(t, m.decision.detail)}</p>}
              <h3>{t.trail}</h3>
              <ol class="trail">
                {m.decision.trail.map((e) => (
                  <li class={e.hit ? "hit" : "miss"}>
                    <b>{e.rule}</b>: {e.hit ? "✓" : "✗"} {say(t, e.why)}
                  </li>
                ))}
              </ol>
            </div>
          )
          : <p>{t.noDecision}</p>}
      </section>
      <section>
        <h2>{t.outboxRows}</h2>
        {m.outbox.length === 0
          ? <p>{t.noOutboxRows}</p>
          : <ListTable class="list" inert columns={outboxColumns(t)} rows={m.outbox} />}
        {m.outbox.some((o) => o.report) && <p class="sub">{t.deliveryReportHelp}</p>}
      </section>
      {m.html !== null && (
        <section id="html">
          <h2>{t.html}</h2>
          {!props.images && (
            <p class="sub">
              {t.imagesBlocked}{" "}
              <form method="post" action={`/messages/${m.id}/images`} class="inline">
                <CsrfField token={props.csrf} />
                <button type="submit">{t.loadImages}</button>
              </form>
            </p>
          )}
          {
            /* No allow-scripts, no allow-same-origin: an opaque origin that cannot run code or reach
              this page; links may open in a new tab (RELIABILITY I-02). */
          }
          <iframe
            class="mailhtml"
            title={t.html}
            sandbox="allow-popups allow-popups-to-escape-sandbox"
            referrerpolicy="no-referrer"
            src={htmlSrc}
          >
          </iframe>
        </section>
      )}
      <section>
        <h2>{t.text}</h2>
        <pre class="mailtext" hx-disable>{m.text ?? "—"}</pre>
      </section>
      <section>
        <h2>{t.attachments}</h2>
        {m.attachments.length === 0 ? <p>{t.noAttachments}</p> : (
          <ul hx-disable>
            {m.attachments.map((a) => (
              <li>
                {a.filename ?? "(unnamed)"} · {a.contentType} · {a.size} B
                {a.contentId ? ` · cid:${a.contentId}` : ""}
              </li>
            ))}
          </ul>
        )}
      </section>
    </article>
  );
}

export function messageRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/messages", async (c) => {
    const t = c.get("t");
    const { query, page } = await readList(c, deps.db, parseMessageQuery, listMessages);
    const above = async () => {
      const accounts = (await listAccounts(deps.db)).map((a) => ({ id: a.id, name: a.name }));
      const fields = filterFields(t, accounts);
      return (
        <FilterForm t={t} path="/messages" target="results" fields={fields} values={query.form} />
      );
    };
    const list = <MessageResults t={t} query={query} page={page} />;
    return await respondList(c, { title: t.messages, nav: "/messages", list, above, query });
  });

  // The list's filter as mbox, zip or CSV (routes/exports.tsx).
  app.get(
    "/messages/export",
    messageExportHandler(
      deps,
      (c, errors) => c.text(errors.map((e) => say(c.get("t"), e)).join("\n"), 422),
    ),
  );

  // Remote images: a POST with the CSRF token (the gate checks it), then the page with this
  // session's key for them (routes/remote_images.ts).
  app.post("/messages/:id{[0-9]+}/images", async (c) => {
    const id = idParam(c.req.param("id"));
    if (!id || !await getMessageDetail(deps.db, id)) return c.notFound();
    const key = await remoteImagesKey(c.get("csrfToken"), id);
    return c.redirect(`/messages/${id}?images=${key}#html`, 303);
  });

  const detail = async (c: Context<AppEnv>, id: number, errors?: string[], status?: 422) => {
    const m = await getMessageDetail(deps.db, id);
    if (!m) return c.notFound();
    const t = c.get("t");
    const csrf = c.get("csrfToken");
    return respond(c, {
      title: m.subject || t.noSubject,
      nav: "/messages",
      fragment: <ClassificationSection t={t} m={m} csrf={csrf} errors={errors} />,
      page: (
        <MessagePage
          t={t}
          m={m}
          csrf={csrf}
          images={await remoteImagesAllowed(c, id) ? c.req.query("images")! : null}
          errors={errors}
        />
      ),
      status,
    });
  };

  app.get("/messages/:id{[0-9]+}", async (c) => {
    const id = idParam(c.req.param("id"));
    if (!id) return c.notFound();
    if (wantsFragment(c)) {
      // Only the classification section is ever asked for as a fragment; a link followed by
      // htmx loads the whole page.
      fullPageRedirect(c, `/messages/${id}`);
    }
    return await detail(c, id);
  });

  app.post("/messages/:id{[0-9]+}/classification", async (c) => {
    const id = idParam(c.req.param("id"));
    if (!id) return c.notFound();
    const params = Params.ofForm(await c.req.parseBody({ all: true }));
    const correction = {
      kind: params.oneOf("kind", ["forwarded", "direct"] as const),
      originalFromAddress: params.text("original_from_address", 320).toLowerCase(),
      originalFromName: params.text("original_from_name", 200),
    };
    // A field the reader already refused is not refused twice.
    const said = (p: string) => params.errors.some((e) => e.startsWith(p.split(":")[0] + ":"));
    const errors = [...params.errors, ...correctionProblems(correction).filter((p) => !said(p))];
    if (errors.length) return await detail(c, id, errors, 422);
    const done = await correctClassification(deps, id, correction, actorName(c.get("actor")));
    if (!done.ok) {
      if (done.problem.code === "not_found") return c.notFound();
      return await detail(c, id, problemLines(done.problem), 422);
    }
    if (wantsFragment(c)) return await detail(c, id);
    return c.redirect(`/messages/${id}`, 303);
  });

  app.get("/messages/:id{[0-9]+}/raw", async (c) => {
    const id = idParam(c.req.param("id"));
    const raw = id ? await getRawMessage(deps.db, id) : null;
    if (!raw || !id) return c.notFound();
    if (raw === "purged") {
      return c.text(`${c.get("t").rawSource}: ${c.get("t").rawPurged}`, 410);
    }
    return c.body(raw as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": "message/rfc822",
      "Content-Disposition": `attachment; filename="message-${id}.eml"`,
    });
  });

  return app;
}
