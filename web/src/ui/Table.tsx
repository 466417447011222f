// The list tables of the console: one markup for their shell, headers and loading/empty states.
import type { ComponentChildren, VNode } from 'preact';
import { useState } from 'preact/hooks';
import { Empty, Loading } from './controls';

/** A column header: its text, or its text and the class its cells share. */
export type Column = string | { label: ComponentChildren; class: string };

/** The last column of tables whose rows end in buttons (named for screen readers only). */
export const ACTIONS_COLUMN: Column = { label: <span class="sr-only">Actions</span>, class: 'c-actions' };

/** A `table.grid` in its scrolling wrapper; `columns` may hold `null` for a column left out. */
export function Table({ test, class: cls, columns, children }: { test: string; class?: string; columns: (Column | null)[]; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table class={cls ? `grid ${cls}` : 'grid'} data-test={test}>
        <thead>
          <tr>
            {columns.map((c) =>
              c === null ? null : typeof c === 'string' ? (
                <th scope="col">{c}</th>
              ) : (
                <th scope="col" class={c.class}>
                  {c.label}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/**
 * A loaded list as a table: "Loading…" until `items` is there, then `empty` when there are none
 * (or, without `empty`, the table with no rows), else a row per item.
 */
export function ListTable<T>({ items, empty, row, ...table }: { items: T[] | null | undefined; empty?: ComponentChildren; row: (item: T) => VNode; test: string; columns: Column[] }) {
  if (!items) return <Loading />;
  if (items.length === 0 && empty !== undefined) return <Empty>{empty}</Empty>;
  return <Table {...table}>{items.map(row)}</Table>;
}

/** "Load more" under a paged list, disabled while the next page loads. */
export function LoadMore({ load, test }: { load: () => Promise<unknown>; test?: string }) {
  const [busy, setBusy] = useState(false);
  const click = () => {
    setBusy(true);
    void load().finally(() => setBusy(false));
  };
  return (
    <div class="more">
      <button type="button" class="btn" onClick={click} disabled={busy} data-test={test}>
        {busy ? 'Loading…' : 'Load more'}
      </button>
    </div>
  );
}
