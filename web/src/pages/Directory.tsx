// Shared parts of the contact and account screens.
import type { ComponentChildren } from 'preact';
import { teams, useList, users } from '../directory';
import { usePages } from '../hooks';
import { Crumbs, Empty, ErrorAlert, Loading, PageHeader } from '../ui/controls';
import { LoadMore } from '../ui/Table';
import { CaseTable, fetchCases } from './CaseList';

/** The screen for a new contact or account: crumbs back to the list, the title, the form. */
export function NewRecordPage({ list, listHref, title, children }: { list: string; listHref: string; title: string; children: ComponentChildren }) {
  return (
    <div class="page">
      <Crumbs list={list} listHref={listHref} here={title} />
      <PageHeader title={title} />
      {children}
    </div>
  );
}

/**
 * A contact's or an account's screen: crumbs back to the list, its name with an Edit button (unless
 * it is being edited), its details or their form (`children`) beside its cases (`related`).
 */
export function RecordPage(props: {
  test: string;
  list: string;
  listHref: string;
  title: string;
  editing: boolean;
  onEdit: () => void;
  editTest: string;
  related: ComponentChildren;
  children: ComponentChildren;
}) {
  const { test, list, listHref, title, editing, onEdit, editTest, related, children } = props;
  return (
    <div class="page page-wide" data-test={test}>
      <Crumbs list={list} listHref={listHref} here={title} />
      <PageHeader title={title}>
        {!editing ? (
          <button type="button" class="btn" onClick={onEdit} data-test={editTest}>
            Edit
          </button>
        ) : null}
      </PageHeader>
      <div class="split split-detail">
        <div>{children}</div>
        {related}
      </div>
    </div>
  );
}

/** The cases of a contact or an account, newest first, paged. */
export function RelatedCaseList({ query, newCaseHref }: { query: Record<string, string>; newCaseHref: string }) {
  const userList = useList(users);
  const teamList = useList(teams);
  const { items, next, error, more } = usePages((cursor?: string) => fetchCases(query, cursor, 25), [JSON.stringify(query)]);
  return (
    <section class="card" aria-labelledby="rel-cases-h" data-test="related-cases">
      <div class="card-head">
        <h2 id="rel-cases-h">Cases</h2>
        <a class="btn btn-sm btn-primary" href={newCaseHref} data-test="related-new-case">
          New case
        </a>
      </div>
      <ErrorAlert error={error} />
      {items === null && !error ? <Loading /> : null}
      {items && items.length === 0 ? <Empty>No cases.</Empty> : null}
      {items && items.length > 0 ? <CaseTable items={items} users={userList} teams={teamList} compact /> : null}
      {next ? <LoadMore load={more} /> : null}
    </section>
  );
}

/** Filters loaded records by text when the API cannot search. */
export function matches(text: string, q: string): boolean {
  return text.toLowerCase().includes(q.trim().toLowerCase());
}
