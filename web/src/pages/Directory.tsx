// Shared parts of the contact and account screens.
import { teams, useList, users } from '../directory';
import { usePages } from '../hooks';
import { Empty, ErrorAlert, Loading } from '../ui/controls';
import { LoadMore } from '../ui/Table';
import { CaseTable, fetchCases } from './CaseList';

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
