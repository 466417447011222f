// Shared parts of the contact and account screens.
import { useEffect, useState } from 'preact/hooks';
import { asApiError, type ApiError } from '../api/client';
import type { Case } from '../api/types';
import { teams, useList, users } from '../directory';
import { Empty, ErrorAlert, Loading } from '../ui/controls';
import { CaseTable, fetchCases } from './CaseList';

/** The cases of a contact or an account, newest first, paged. */
export function RelatedCaseList({ query, newCaseHref }: { query: Record<string, string>; newCaseHref: string }) {
  const userList = useList(users);
  const teamList = useList(teams);
  const [items, setItems] = useState<Case[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const key = JSON.stringify(query);
  useEffect(() => {
    setItems(null);
    fetchCases(query, undefined, 25).then(
      (p) => {
        setItems(p.items);
        setNext(p.next);
      },
      (e) => setError(asApiError(e)),
    );
  }, [key]);
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
      {next ? (
        <div class="more">
          <button
            type="button"
            class="btn"
            onClick={() =>
              fetchCases(query, next, 25).then(
                (p) => {
                  setItems((o) => [...(o ?? []), ...p.items]);
                  setNext(p.next);
                },
                (e) => setError(asApiError(e)),
              )
            }
          >
            Load more
          </button>
        </div>
      ) : null}
    </section>
  );
}

/** Filters loaded records by text when the API cannot search. */
export function matches(text: string, q: string): boolean {
  return text.toLowerCase().includes(q.trim().toLowerCase());
}
