// Rendered once on the server, never reconciled: list items need no `key` (which hono/jsx
// would print as an attribute).
// deno-lint-ignore-file jsx-key
/**
 * The one list component of the admin: a table drawn from column specs, the keyset pager, the
 * filter form drawn from field specs, and the empty state. `respondList` answers with the whole
 * page or with the list alone when htmx asks for it: the page and the fragment come from the same
 * code (the htmx "template fragments" approach).
 */
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import type { AppEnv } from "./app_env.ts";
import type { Dict } from "./i18n.ts";
import { Problems } from "./layout.tsx";
import { respond } from "./render.tsx";
import { pushUrl, wantsFragment } from "./htmx.ts";
import { type ListQuery, listUrl, type QueryForm } from "./list_queries.ts";

/** HTML attributes; an undefined one is left out. */
export type Attrs = Record<string, string | undefined>;

/**
 * `hx-disable` when `on`: the element shows text from mail or typed by people, in which htmx
 * must never look for attributes to act on. (Spread, not `hx-disable={undefined}`: the
 * precompiled JSX would leave a space where the attribute was.)
 */
function inert(on: boolean | undefined): Attrs {
  return on ? { "hx-disable": "true" } : {};
}

/** One column of a list table. */
export interface Column<Row> {
  /** The header cell's text ("" above a column of buttons). */
  label: string;
  /** What the cell shows; `index` is the row's place in the table. */
  cell: (row: Row, index: number) => Child;
  /** The cell's class, fixed or read from the row. */
  class?: string | ((row: Row) => string);
  /** `hx-disable` on the cell (see `inert`). */
  inert?: boolean;
  /** The cell heads its row (`<th>`), as in a table of names and values. */
  rowHeader?: boolean;
}

/** One row of a list table: also the fragment an action on that row answers with. */
export function TableRow<Row>(
  props: { columns: readonly Column<Row>[]; row: Row; index?: number; attrs?: Attrs },
) {
  const { row } = props;
  return (
    <tr {...props.attrs}>
      {props.columns.map((col) => {
        const Cell = col.rowHeader ? "th" : "td";
        return (
          <Cell
            class={typeof col.class === "function" ? col.class(row) : col.class}
            {...inert(col.inert)}
          >
            {col.cell(row, props.index ?? 0)}
          </Cell>
        );
      })}
    </tr>
  );
}

/** How a list table looks, apart from its rows. */
export interface TableSpec<Row> {
  /** The table's classes (`list messages`). */
  class: string;
  id?: string;
  /** `hx-disable` on the whole table (see `inert`). */
  inert?: boolean;
  /** More attributes of the table (htmx polling). */
  attrs?: Attrs;
  columns: readonly Column<Row>[];
  /** The attributes of each row's `<tr>` (its id, `data-*`). */
  rowAttrs?: (row: Row) => Attrs;
  /** False for a table without a header row. */
  head?: boolean;
}

/** A table of `rows`, one column a spec. */
export function ListTable<Row>(props: TableSpec<Row> & { rows: readonly Row[] }) {
  return (
    <table class={props.class} id={props.id} {...inert(props.inert)} {...props.attrs}>
      {props.head !== false && (
        <thead>
          <tr>{props.columns.map((col) => <th>{col.label}</th>)}</tr>
        </thead>
      )}
      <tbody>
        {props.rows.map((row, index) => (
          <TableRow columns={props.columns} row={row} index={index} attrs={props.rowAttrs?.(row)} />
        ))}
      </tbody>
    </table>
  );
}

/** What the keyset pager links to: the filters stay, the cursor moves. */
export interface PagerSpec {
  /** The list's path (`/messages`). */
  path: string;
  /** The query of this page: its filters stay in every link. */
  query: ListQuery<QueryForm, unknown, unknown>;
  /** The next page's cursor text, or null on the last page. */
  next: string | null;
  /** Links load the list as an htmx fragment and push its URL. */
  htmx?: boolean;
}

function Pager(props: PagerSpec & { t: Dict; target: string }) {
  const { t, path, query } = props;
  if (!query.at && !props.next) return null;
  const link = (url: string) => (props.htmx ? { href: url, "hx-get": url } : { href: url });
  const hx = props.htmx
    ? { "hx-target": `#${props.target}`, "hx-swap": "outerHTML", "hx-push-url": "true" }
    : {};
  return (
    <nav class="pager" {...hx}>
      {query.at && <a {...link(listUrl(path, query, ""))}>{t.newest}</a>}
      {props.next && <a rel="next" {...link(listUrl(path, query, props.next))}>{t.older}</a>}
    </nav>
  );
}

/**
 * A list as htmx swaps it: `<div id>` with the query's problems, what stands above the table
 * (export links, the form that adds a row), the table or the empty state, and the pager.
 * `rows` null (a refused query) shows neither table nor empty state.
 */
export function ListView<Row>(
  props: {
    t: Dict;
    id: string;
    /** `hx-disable` on the whole list (see `inert`). */
    inert?: boolean;
    errors?: string[];
    top?: Child;
    rows: readonly Row[] | null;
    /** What an empty list says. */
    empty: string;
    table: TableSpec<Row>;
    pager?: PagerSpec;
  },
) {
  const { t, rows } = props;
  return (
    <div id={props.id} {...inert(props.inert)}>
      <Problems t={t} errors={props.errors ?? []} />
      {props.top}
      {rows && (rows.length === 0
        ? <p class="empty">{props.empty}</p>
        : <ListTable {...props.table} rows={rows} />)}
      {props.pager && <Pager t={t} target={props.id} {...props.pager} />}
    </div>
  );
}

/** One field of a filter form; `select` lists its options as [value, label]. */
export type FilterField =
  & { name: string; label: string }
  & (
    | { type: "search"; placeholder: string; maxlength: number }
    | { type: "select"; options: readonly (readonly [string, string])[] }
    | { type: "id"; size: number }
    | { type: "date" }
    | { type: "check" }
  );

export function FilterInput(props: { t: Dict; field: FilterField; value: string | boolean }) {
  const { field: f, value } = props;
  const text = typeof value === "string" ? value : "";
  switch (f.type) {
    case "search":
      return (
        <label class="grow">
          {f.label}
          <input
            id={f.name}
            type="search"
            name={f.name}
            value={text}
            placeholder={f.placeholder}
            maxlength={f.maxlength}
          />
        </label>
      );
    case "select":
      return (
        <label>
          {f.label}
          <select name={f.name}>
            <option value="">{props.t.all}</option>
            {f.options.map(([v, label]) => <option value={v} selected={text === v}>{label}
            </option>)}
          </select>
        </label>
      );
    case "id":
      return (
        <label>
          {f.label}
          <input type="text" name={f.name} value={text} size={f.size} inputmode="numeric" />
        </label>
      );
    case "date":
      return (
        <label>
          {f.label}
          <input type="date" name={f.name} value={text} />
        </label>
      );
    case "check":
      return (
        <label class="check">
          <input type="checkbox" name={f.name} value="1" checked={value === true} /> {f.label}
        </label>
      );
  }
}

/**
 * The filter form above a list: a plain GET form without JavaScript; with htmx, each change
 * (and typing in a search box, once it pauses) loads the list as a fragment and pushes its URL.
 */
export function FilterForm(
  props: { t: Dict; path: string; target: string; fields: FilterField[]; values: QueryForm },
) {
  const { t } = props;
  const typing = props.fields.filter((f) => f.type === "search")
    .map((f) => `input changed delay:400ms from:#${f.name}, `).join("");
  return (
    <form
      id="filters"
      class="filters"
      method="get"
      action={props.path}
      hx-get={props.path}
      hx-target={`#${props.target}`}
      hx-swap="outerHTML"
      hx-push-url="true"
      hx-trigger={`change, ${typing}submit`}
    >
      {props.fields.map((f) => <FilterInput t={t} field={f} value={props.values[f.name] ?? ""} />)}
      <button type="submit">{t.apply}</button>
      <a href={props.path}>{t.clear}</a>
    </form>
  );
}

/**
 * Answers a list page: with htmx asking, `list` alone; otherwise the page — its heading, `above`
 * (filters, counts, a "new" button; not computed for a fragment) and `list`. With a `query`,
 * the answer is 422 when the query was refused, and a fragment puts the list's canonical
 * address (the filters that are set, not every empty field of the form) in the address bar.
 */
export async function respondList(
  c: Context<AppEnv>,
  opts: {
    title: string;
    /** The list's path, also its item in the navigation. */
    nav: string;
    list: Child;
    above?: () => Child | Promise<Child>;
    query?: ListQuery<QueryForm, unknown, unknown>;
    status?: 200 | 404 | 409 | 422;
  },
): Promise<Response> {
  const { title, list, query } = opts;
  const status = query?.errors.length ? 422 : opts.status;
  if (wantsFragment(c)) {
    if (query) pushUrl(c, listUrl(opts.nav, query));
    return await respond(c, { title, fragment: list, status });
  }
  const above = await opts.above?.();
  const page = (
    <>
      <h1>{title}</h1>
      {above}
      {list}
    </>
  );
  return await respond(c, { title, nav: opts.nav, fragment: list, page, status });
}
