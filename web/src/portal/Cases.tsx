// My cases: the customer's cases (or their account's), newest first, page by page.
import { api, ok, type Schemas } from '../api/client';
import { statusGroup, statusLabel } from '../format';
import { usePages } from '../hooks';
import { href } from '../router';
import { ErrorAlert, Loading, Time } from '../ui/controls';
import { usePortalSession } from './session';
import { MoreButton } from './parts';

export type PortalCaseView = Schemas['CaseView'];

const PAGE = 25;

export function MyCases() {
  const session = usePortalSession();
  const pages = usePages(
    (cursor?: string) => ok(api.GET('/cases', { params: { query: { limit: PAGE, cursor } } })).then((p) => ({ items: p.items, next: p.next_cursor ?? null })),
    [],
  );
  const title = session.accountCases ? 'Your company’s cases' : 'My cases';
  return (
    <>
      <div class="p-page-head">
        <h1 tabIndex={-1}>{title}</h1>
        {session.canCreate ? (
          <a class="btn btn-primary" href="#/new">
            New case
          </a>
        ) : null}
      </div>
      <ErrorAlert error={pages.error} />
      {pages.items === null ? (
        pages.error ? null : <Loading label="Loading your cases…" />
      ) : pages.items.length === 0 ? (
        <p class="p-empty" data-test="portal-empty">
          You have no cases yet.{session.canCreate ? ' Open a new case when you need help.' : ''}
        </p>
      ) : (
        <ul class="p-cases" aria-label={title}>
          {pages.items.map((c) => (
            <li key={c.id}>
              <a class="p-case-row" href={href(['cases', c.number])} data-test="portal-case-row" data-case-number={c.number}>
                <span class="p-case-top">
                  <span class="p-case-num">{c.display_number}</span>
                  <span class="p-case-subject" data-test="portal-case-subject">
                    {c.subject || '(no subject)'}
                  </span>
                </span>
                <span class="p-case-meta">
                  <StatusWord status={c.status} />
                  <span>
                    Last activity <Time at={c.updated_at} />
                  </span>
                </span>
              </a>
            </li>
          ))}
        </ul>
      )}
      <MoreButton pages={pages} test="portal-more" />
    </>
  );
}

export function StatusWord({ status }: { status: PortalCaseView['status'] }) {
  return (
    <span class={`p-status p-status-${statusGroup(status)}`} data-test="portal-case-status">
      {statusLabel(status)}
    </span>
  );
}
