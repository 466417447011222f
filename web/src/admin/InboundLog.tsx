// The inbound log: every message's outcome with its reason, newest first.
import { useEffect, useState } from 'preact/hooks';
import { api, asApiError, ok, type ApiError } from '../api/client';
import { INBOUND_LOG_PARAMS } from '../api/features';
import type { paths } from '../api/schema';
import { type InboundLogEntry, type InboundOutcome, OUTCOMES } from '../api/types';
import { mailboxes, useList } from '../directory';
import { fullTime, humanize, shortTime } from '../format';
import { href, navigate } from '../router';
import { Badge, Empty, ErrorAlert, Loading, PageHeader, SelectField } from '../ui/controls';

type LogQuery = NonNullable<paths['/inbound-log']['get']['parameters']['query']>;
const serverFilter = INBOUND_LOG_PARAMS.includes('outcome');

const KIND: Record<InboundOutcome, string> = {
  created: 'success',
  new_linked: 'success',
  appended: 'public',
  reopened: 'public',
  duplicate: 'neutral',
  suppressed: 'neutral',
  dropped: 'warning',
  junk: 'warning',
  rejected: 'danger',
  quarantined: 'danger',
};

export function InboundLog({ query }: { query: URLSearchParams }) {
  const outcome = query.get('outcome') ?? '';
  const mailboxList = useList(mailboxes);
  const [items, setItems] = useState<InboundLogEntry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const page = (cursor?: string) => {
    const q = { limit: 100, cursor, ...(serverFilter && outcome ? { outcome } : {}) } as unknown as LogQuery;
    return ok(api.GET('/inbound-log', { params: { query: q } }));
  };
  useEffect(() => {
    setItems(null);
    setError(null);
    page().then(
      (p) => {
        setItems(p.items);
        setNext(p.next_cursor ?? null);
      },
      (e) => setError(asApiError(e)),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [outcome]);
  const more = async () => {
    if (!next) return;
    setBusy(true);
    try {
      const p = await page(next);
      setItems((o) => [...(o ?? []), ...p.items]);
      setNext(p.next_cursor ?? null);
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };
  const shown = (items ?? []).filter((i) => !outcome || i.outcome === outcome);
  return (
    <>
      <PageHeader title="Inbound log" sub="Every message received, what became of it and why." />
      <form class="filters" aria-label="Filter the log" onSubmit={(e) => e.preventDefault()}>
        <SelectField
          label="Outcome"
          value={outcome}
          onValue={(v) => navigate(href(['admin', 'inbound'], { outcome: v }), true)}
          options={[{ value: '', label: 'All outcomes' }, ...OUTCOMES.map((o) => ({ value: o, label: humanize(o) }))]}
          test="inbound-outcome"
          hint={!serverFilter && outcome ? 'Filters the entries loaded so far.' : undefined}
        />
      </form>
      <ErrorAlert error={error} />
      {items === null && !error ? <Loading /> : null}
      {items && shown.length === 0 ? <Empty>No messages{outcome ? ' with this outcome' : ''}{next ? ' among those loaded' : ''}.</Empty> : null}
      {shown.length > 0 ? (
        <div class="table-wrap">
          <table class="grid" data-test="inbound-table">
            <thead>
              <tr>
                <th scope="col" class="c-time">
                  Received
                </th>
                <th scope="col">Outcome</th>
                <th scope="col">From</th>
                <th scope="col">To</th>
                <th scope="col">Subject</th>
                <th scope="col">Case</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((i) => (
                <tr key={i.id} data-test="inbound-row" data-outcome={i.outcome}>
                  <td class="c-time">
                    <time dateTime={i.received_at} title={fullTime(i.received_at)}>
                      {shortTime(i.received_at)}
                    </time>
                  </td>
                  <td>
                    <Badge kind={KIND[i.outcome] ?? 'neutral'}>{humanize(i.outcome)}</Badge>
                    {i.acknowledged ? <div class="small muted">Acknowledged</div> : null}
                  </td>
                  <td>{i.from}</td>
                  <td>
                    {i.to.join(', ')}
                    {i.mailbox_id ? <div class="small muted">{mailboxList?.find((m) => m.id === i.mailbox_id)?.name}</div> : null}
                  </td>
                  <td>{i.subject}</td>
                  <td class="nowrap">{i.case_number ? <a href={href(['cases', i.case_number])}>#{i.case_number}</a> : null}</td>
                  <td>
                    {i.reason}
                    {i.rule ? <div class="small muted">Threaded by {humanize(i.rule)}</div> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {next ? (
        <div class="more">
          <button type="button" class="btn" onClick={more} disabled={busy} data-test="load-more">
            {busy ? 'Loading…' : 'Load more'}
          </button>
        </div>
      ) : null}
    </>
  );
}
