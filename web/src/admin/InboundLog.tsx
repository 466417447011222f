// The inbound log: every message's outcome with its reason, newest first.
import { api, ok } from '../api/client';
import { INBOUND_LOG_PARAMS } from '../api/features';
import type { paths } from '../api/schema';
import { type InboundOutcome, OUTCOMES } from '../api/types';
import { mailboxes, useList } from '../directory';
import { humanize, shortTime } from '../format';
import { usePages } from '../hooks';
import { href, navigate } from '../router';
import { Badge, Empty, ErrorAlert, Loading, PageHeader, SelectField, Time } from '../ui/controls';
import { LoadMore, Table } from '../ui/Table';

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
  const { items, next, error, more } = usePages(async (cursor?: string) => {
    const q = { limit: 100, cursor, ...(serverFilter && outcome ? { outcome } : {}) } as unknown as LogQuery;
    const p = await ok(api.GET('/inbound-log', { params: { query: q } }));
    return { items: p.items, next: p.next_cursor ?? null };
  }, [outcome]);
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
        <Table test="inbound-table" columns={[{ label: 'Received', class: 'c-time' }, 'Outcome', 'From', 'To', 'Subject', 'Case', 'Reason']}>
          {shown.map((i) => (
            <tr key={i.id} data-test="inbound-row" data-outcome={i.outcome}>
              <td class="c-time">
                <Time at={i.received_at} show={shortTime} />
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
        </Table>
      ) : null}
      {next ? <LoadMore load={more} test="load-more" /> : null}
    </>
  );
}
