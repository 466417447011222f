// Accounts: list, detail with their contacts and cases, create and edit. Email domains decide
// which mail belongs to the account: only admins change them.
import { useState } from 'preact/hooks';
import { api, ok, tagged } from '../api/client';
import type { Account } from '../api/types';
import { accountById, accounts, contacts, useList } from '../directory';
import { splitList } from '../format';
import { useAsync, useSave, useTitle } from '../hooks';
import { href, navigate } from '../router';
import { useSession } from '../session';
import { PagePending, Empty, ErrorAlert, FormActions, fieldError, Loading, PageHeader, TextArea, TextField } from '../ui/controls';
import { ListTable } from '../ui/Table';
import { matches, NewRecordPage, RecordPage, RelatedCaseList } from './Directory';

export function Accounts({ id }: { id?: string | undefined; query: URLSearchParams }) {
  if (!id) return <AccountList />;
  if (id === 'new') return <AccountNew />;
  return <AccountDetail id={id} key={id} />;
}

function AccountList() {
  useTitle('Accounts');
  const list = useList(accounts);
  const [q, setQ] = useState('');
  const shown = (list ?? []).filter((a) => !q || matches(`${a.name} ${a.email_domains.join(' ')} ${a.website ?? ''}`, q));
  return (
    <div class="page page-wide">
      <PageHeader title="Accounts" sub={list ? `${list.length} accounts` : undefined}>
        <a class="btn btn-primary" href="#/accounts/new" data-test="account-new">
          New account
        </a>
      </PageHeader>
      <form class="filters" role="search" aria-label="Find accounts" onSubmit={(e) => e.preventDefault()}>
        <TextField class="f-search" label="Filter" type="search" placeholder="Name or domain" value={q} onValue={setQ} test="account-search" />
      </form>
      <ListTable
        items={list && shown}
        empty={<>No accounts{q ? ' match' : ' yet'}.</>}
        test="account-table"
        columns={['Name', 'Email domains', 'Phone', 'Website']}
        row={(a) => (
          <tr key={a.id} data-test="account-row">
            <td>
              <a href={href(['accounts', a.id])}>{a.name}</a>
            </td>
            <td>{a.email_domains.join(', ')}</td>
            <td>{a.phone}</td>
            <td>{a.website}</td>
          </tr>
        )}
      />
    </div>
  );
}

function AccountNew() {
  useTitle('New account');
  return (
    <NewRecordPage list="Accounts" listHref="#/accounts" title="New account">
      <AccountForm account={null} etag={null} onSaved={(a) => navigate(href(['accounts', a.id]))} onCancel={() => navigate('#/accounts')} />
    </NewRecordPage>
  );
}

function AccountDetail({ id }: { id: string }) {
  const loaded = useAsync(() => tagged(api.GET('/accounts/{id}', { params: { path: { id } } })), [id]);
  const contactList = useList(contacts);
  const [editing, setEditing] = useState(false);
  const account = loaded.data?.data;
  useTitle(account?.name ?? 'Account');
  if (!account) return <PagePending error={loaded.error} />;
  const members = (contactList ?? []).filter((c) => c.account_id === account.id);
  return (
    <RecordPage
      test="account-detail"
      list="Accounts"
      listHref="#/accounts"
      title={account.name}
      editing={editing}
      onEdit={() => setEditing(true)}
      editTest="account-edit"
      related={<RelatedCaseList query={{ account_id: account.id }} newCaseHref={href(['cases', 'new'], { account: account.id })} />}
    >
      {editing ? (
        <AccountForm
          account={account}
          etag={loaded.data!.etag}
          onSaved={(a) => {
            accountById.set(a.id, a);
            setEditing(false);
            loaded.reload();
          }}
          onCancel={() => setEditing(false)}
        />
      ) : (
        <section class="card" aria-label="Account details">
          <dl class="dl">
            <dt>Email domains</dt>
            <dd>{account.email_domains.join(', ') || '—'}</dd>
            <dt>Phone</dt>
            <dd>{account.phone || '—'}</dd>
            <dt>Website</dt>
            <dd>{account.website || '—'}</dd>
          </dl>
        </section>
      )}
      <section class="card" aria-labelledby="acc-contacts-h">
        <div class="card-head">
          <h2 id="acc-contacts-h">Contacts</h2>
        </div>
        {contactList === null ? (
          <Loading />
        ) : members.length === 0 ? (
          <Empty>No contacts.</Empty>
        ) : (
          <ul class="plain-list">
            {members.map((c) => (
              <li key={c.id}>
                <a class="grow" href={href(['contacts', c.id])}>
                  {c.name}
                </a>
                <span class="muted small">{c.emails[0]}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </RecordPage>
  );
}

function AccountForm({ account, etag, onSaved, onCancel }: { account: Account | null; etag: string | null; onSaved: (a: Account) => void; onCancel: () => void }) {
  const { isAdmin } = useSession();
  const locked = !!account && !isAdmin;
  const [name, setName] = useState(account?.name ?? '');
  const [domains, setDomains] = useState((account?.email_domains ?? []).join('\n'));
  const [phone, setPhone] = useState(account?.phone ?? '');
  const [website, setWebsite] = useState(account?.website ?? '');
  const { busy, error, onSubmit } = useSave({ leaves: true });
  const submit = onSubmit(async () => {
    const body: { name: string; phone: string | null; website: string | null; email_domains?: string[] } = { name: name.trim(), phone: phone.trim() || null, website: website.trim() || null };
    if (!locked) body.email_domains = splitList(domains);
    const saved = account
      ? await ok(api.PATCH('/accounts/{id}', { params: { path: { id: account.id }, header: { 'If-Match': etag ?? undefined } }, body }))
      : await ok(api.POST('/accounts', { body }));
    accounts.put(saved);
    onSaved(saved);
  });
  return (
    <form class="card" onSubmit={submit} aria-label={account ? `Edit ${account.name}` : 'New account'} data-test="account-form">
      <ErrorAlert error={error} shown={['name', 'email_domains', 'phone', 'website']} />
      <TextField label="Name" value={name} onValue={setName} required test="account-name" error={fieldError(error, 'name')} />
      <TextArea
        label="Email domains"
        rows={2}
        value={domains}
        onValue={setDomains}
        disabled={locked}
        hint={locked ? 'Only admins change this: it decides which mail belongs to the account.' : 'One per line, e.g. example.com. Mail from these domains belongs to this account.'}
        test="account-domains"
        error={fieldError(error, 'email_domains')}
      />
      <TextField label="Phone" type="tel" value={phone} onValue={setPhone} error={fieldError(error, 'phone')} />
      <TextField label="Website" type="url" value={website} onValue={setWebsite} error={fieldError(error, 'website')} />
      <FormActions busy={busy} save={account ? 'Save' : 'Create account'} test="account-save" onCancel={onCancel} />
    </form>
  );
}
