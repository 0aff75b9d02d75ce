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
import type { Dict } from "./i18n.ts";
import { CsrfField, Problems } from "./layout.tsx";
import { fmtDate, idParam, respond } from "./render.tsx";
import { Params } from "./params.ts";
import { fullPageRedirect, pushUrl, wantsFragment } from "./htmx.ts";
import { remoteImagesAllowed, remoteImagesKey } from "./remote_images.ts";
import {
  messageQueryString,
  type ParsedMessageQuery,
  parseMessageQuery,
} from "./message_filters.ts";
import {
  encodeCursor,
  listMessages,
  type MessagePage,
  REPLY_STATUSES,
} from "../src/store/message_list.ts";
import {
  getMessageDetail,
  getRawMessage,
  type MessageDetail,
} from "../src/store/message_detail.ts";
import { listAccounts } from "../src/store/accounts.ts";
import { correctClassification, correctionProblems } from "../src/actions/messages.ts";
import { problemLines } from "../src/actions/result.ts";
import type { Address } from "../src/domain/email.ts";

type AccountChoice = { id: number; name: string };

function FilterForm(
  props: { t: Dict; form: ParsedMessageQuery["form"]; accounts: AccountChoice[] },
) {
  const { t, form } = props;
  return (
    <form
      id="filters"
      class="filters"
      method="get"
      action="/messages"
      hx-get="/messages"
      hx-target="#results"
      hx-swap="outerHTML"
      hx-push-url="true"
      hx-trigger="change, input changed delay:400ms from:#q, submit"
    >
      <label class="grow">
        {t.search}
        <input
          id="q"
          type="search"
          name="q"
          value={form.q}
          placeholder={t.searchPlaceholder}
          maxlength={500}
        />
      </label>
      <label>
        {t.account}
        <select name="account">
          <option value="">{t.all}</option>
          {props.accounts.map((a) => (
            <option value={String(a.id)} selected={form.account === String(a.id)}>{a.name}</option>
          ))}
        </select>
      </label>
      <label>
        {t.kind}
        <select name="kind">
          <option value="">{t.all}</option>
          <option value="forwarded" selected={form.kind === "forwarded"}>{t.forwarded}</option>
          <option value="direct" selected={form.kind === "direct"}>{t.direct}</option>
        </select>
      </label>
      <label>
        {t.replyStatus}
        <select name="reply">
          <option value="">{t.all}</option>
          {REPLY_STATUSES.map((r) => (
            <option value={r} selected={form.reply === r}>{t[`reply_${r}`]}</option>
          ))}
        </select>
      </label>
      <label>
        {t.since}
        <input type="date" name="since" value={form.since} />
      </label>
      <label>
        {t.until}
        <input type="date" name="until" value={form.until} />
      </label>
      <label class="check">
        <input type="checkbox" name="unparsed" value="1" checked={form.unparsed} /> {t.unparsed}
      </label>
      <button type="submit">{t.apply}</button>
      <a href="/messages">{t.clear}</a>
    </form>
  );
}

function who(address: string | null, name: string | null): string {
  if (!address) return "—";
  return name ? `${name} <${address}>` : address;
}

/** The results fragment: the page and the htmx target render the same component. */
export function MessageResults(
  props: { t: Dict; query: ParsedMessageQuery; page: MessagePage | null },
) {
  const { t, query, page } = props;
  return (
    <div id="results">
      <Problems t={t} errors={query.errors} />
      {page && page.rows.length === 0 && <p class="empty">{t.noMessages}</p>}
      {page && page.rows.length > 0 && (
        <table class="list messages" hx-disable>
          <thead>
            <tr>
              <th>{t.received}</th>
              <th>{t.account}</th>
              <th>{t.from}</th>
              <th>{t.subject}</th>
              <th>{t.kind}</th>
              <th>{t.replyStatus}</th>
            </tr>
          </thead>
          <tbody>
            {page.rows.map((m) => (
              <tr data-id={String(m.id)}>
                <td class="nowrap">{fmtDate(m.receivedAt)}</td>
                <td>{m.accountName}</td>
                <td>{who(m.fromAddress, m.fromName)}</td>
                <td>
                  <a href={`/messages/${m.id}`}>{m.subject || t.noSubject}</a>
                  {m.parseStatus !== "parsed" && <span class="badge bad">{m.parseStatus}</span>}
                  {m.kind === "forwarded" && m.originalFromAddress && (
                    <div class="sub">↪ {m.originalFromAddress}</div>
                  )}
                </td>
                <td>{m.kind ? t[m.kind] : "—"}</td>
                <td>
                  <span class={`badge ${m.decision}`}>{t[`reply_${m.decision}`]}</span>
                  {m.reason && <div class="sub">{m.reason}</div>}
                  {m.outboxStatus && <div class="sub">→ {m.outboxStatus}</div>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" hx-target="#results" hx-swap="outerHTML" hx-push-url="true">
        {query.cursor && (
          <a
            href={`/messages${messageQueryString(query.form)}`}
            hx-get={`/messages${messageQueryString(query.form)}`}
          >
            {t.newest}
          </a>
        )}
        {page?.next && (
          <a
            rel="next"
            href={`/messages${messageQueryString(query.form, encodeCursor(page.next))}`}
            hx-get={`/messages${messageQueryString(query.form, encodeCursor(page.next))}`}
          >
            {t.older}
          </a>
        )}
      </nav>
    </div>
  );
}

function AddressList(props: { list: Address[] }) {
  return <>{props.list.map((a) => who(a.address, a.name)).join(", ") || "—"}</>;
}

function ClassificationSection(
  props: { t: Dict; m: MessageDetail; csrf: string; errors?: string[] },
) {
  const { t, m } = props;
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
          <ul>{m.evidence.map((e) => <li>{e}</li>)}</ul>
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
            <input
              type="text"
              name="original_from_address"
              placeholder={t.originalSender}
              value={m.original.fromAddress ?? ""}
              maxlength={320}
            />
            <input
              type="text"
              name="original_from_name"
              placeholder={t.name}
              value={m.original.fromName ?? ""}
              maxlength={200}
            />
            <button type="submit">{t.save}</button>
          </form>
        </details>
      )}
    </section>
  );
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
      <section>
        <h2>{t.headers}</h2>
        <dl class="facts" hx-disable>
          <dt>{t.from}</dt>
          <dd>
            <AddressList list={m.from} />
          </dd>
          <dt>{t.to}</dt>
          <dd>
            <AddressList list={m.to} />
          </dd>
          {m.cc.length > 0 && (
            <>
              <dt>{t.cc}</dt>
              <dd>
                <AddressList list={m.cc} />
              </dd>
            </>
          )}
          {m.replyTo.length > 0 && (
            <>
              <dt>{t.replyTo}</dt>
              <dd>
                <AddressList list={m.replyTo} />
              </dd>
            </>
          )}
          <dt>{t.received}</dt>
          <dd>{fmtDate(m.receivedAt)}</dd>
          <dt>{t.account}</dt>
          <dd>{m.accountName} · {m.mailbox} · UID {m.uid}</dd>
          <dt>Message-ID</dt>
          <dd>{m.messageIdHeader ?? "—"}</dd>
        </dl>
        <details>
          <summary>{t.headers} ({Object.keys(m.headers).length})</summary>
          <table class="headers" hx-disable>
            {Object.entries(m.headers).flatMap(([k, vs]) =>
              vs.map((v) => (
                <tr>
                  <th>{k}</th>
                  <td>{v}</td>
                </tr>
              ))
            )}
          </table>
        </details>
        <p>
          <a href={`/messages/${m.id}/raw`} download>{t.rawSource}</a>
        </p>
      </section>
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
                    · {t.reason}: <code>{m.decision.reason}</code>
                  </>
                )} · {fmtDate(m.decision.decidedAt)}
              </p>
              {m.decision.detail && <p class="sub">{m.decision.detail}</p>}
              <h3>{t.trail}</h3>
              <ol class="trail">
                {m.decision.trail.map((e) => (
                  <li class={e.hit ? "hit" : "miss"}>
                    <b>{e.rule}</b>: {e.hit ? "✓" : "✗"} {e.why}
                  </li>
                ))}
              </ol>
            </div>
          )
          : <p>{t.noDecision}</p>}
      </section>
      <section>
        <h2>{t.outboxRows}</h2>
        {m.outbox.length === 0 ? <p>{t.noOutboxRows}</p> : (
          <table class="list" hx-disable>
            <tr>
              <th>#</th>
              <th>{t.status}</th>
              <th>{t.recipient}</th>
              <th>{t.subject}</th>
              <th>{t.attempts}</th>
              <th>{t.lastError}</th>
            </tr>
            {m.outbox.map((o) => (
              <tr>
                <td>
                  <a href={`/outbox?status=${o.status}#outbox-${o.id}`}>{o.id}</a>
                </td>
                <td>
                  <span class={`badge ${o.status}`}>{o.status}</span>
                </td>
                <td>{o.recipient}</td>
                <td>{o.subject}</td>
                <td>{o.attempts}</td>
                <td>{o.lastError ?? ""}</td>
              </tr>
            ))}
          </table>
        )}
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
    const query = parseMessageQuery(Params.ofQuery(c));
    const page = query.errors.length === 0
      ? await listMessages(deps.db, query.filters, query.cursor, query.limit)
      : null;
    const results = <MessageResults t={t} query={query} page={page} />;
    const status = query.errors.length ? 422 : 200;
    if (wantsFragment(c)) {
      // The address bar shows the filters that are set, not every empty field of the form.
      const after = c.req.query("after");
      pushUrl(c, `/messages${messageQueryString(query.form, query.cursor ? after : undefined)}`);
      return respond(c, { title: t.messages, fragment: results, status });
    }
    const accounts = (await listAccounts(deps.db)).map((a) => ({ id: a.id, name: a.name }));
    return respond(c, {
      title: t.messages,
      nav: "/messages",
      fragment: results,
      page: (
        <>
          <h1>{t.messages}</h1>
          <FilterForm t={t} form={query.form} accounts={accounts} />
          {results}
        </>
      ),
      status,
    });
  });

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
    return c.body(raw as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": "message/rfc822",
      "Content-Disposition": `attachment; filename="message-${id}.eml"`,
    });
  });

  return app;
}
