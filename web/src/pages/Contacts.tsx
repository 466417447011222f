// Contacts: list, detail with their cases, create and edit. A contact's account, addresses and
// portal access decide what the customer sees: only admins change them (the API says 403).
import { useState } from 'preact/hooks';
import { api, ok, tagged } from '../api/client';
import { CONTACT_LIST_PARAMS } from '../api/features';
import type { Contact } from '../api/types';
import { accountById, accounts, contactById, contacts, useList, useRecord } from '../directory';
import { splitList } from '../format';
import { useAsync, useSave, useTitle } from '../hooks';
import { href, navigate } from '../router';
import { useSession } from '../session';
import { PagePending, Badge, ErrorAlert, FormActions, fieldError, PageHeader, SelectField, TextArea, TextField } from '../ui/controls';
import { ListTable } from '../ui/Table';
import { Picker } from '../ui/Picker';
import { matches, NewRecordPage, RecordPage, RelatedCaseList } from './Directory';

export function Contacts({ id }: { id?: string | undefined; query: URLSearchParams }) {
  if (!id) return <ContactList />;
  if (id === 'new') return <ContactNew />;
  return <ContactDetail id={id} key={id} />;
}

function ContactList() {
  useTitle('Contacts');
  const list = useList(contacts);
  const accountList = useList(accounts);
  const [q, setQ] = useState('');
  const shown = (list ?? []).filter((c) => !q || matches(`${c.name} ${c.emails.join(' ')} ${c.phone ?? ''}`, q));
  return (
    <div class="page page-wide">
      <PageHeader title="Contacts" sub={list ? `${list.length} contacts` : undefined}>
        <a class="btn btn-primary" href="#/contacts/new" data-test="contact-new">
          New contact
        </a>
      </PageHeader>
      <form class="filters" role="search" aria-label="Find contacts" onSubmit={(e) => e.preventDefault()}>
        <TextField class="f-search" label={CONTACT_LIST_PARAMS.includes('q') ? 'Search' : 'Filter'} type="search" placeholder="Name, address or phone" value={q} onValue={setQ} test="contact-search" />
      </form>
      <ListTable
        items={list && shown}
        empty={<>No contacts{q ? ' match' : ' yet'}.</>}
        test="contact-table"
        columns={['Name', 'Email', 'Phone', 'Account', 'Portal']}
        row={(c) => (
          <tr key={c.id} data-test="contact-row">
            <td>
              <a href={href(['contacts', c.id])}>{c.name}</a>
            </td>
            <td>{c.emails.join(', ')}</td>
            <td>{c.phone}</td>
            <td>{c.account_id ? <a href={href(['accounts', c.account_id])}>{accountList?.find((a) => a.id === c.account_id)?.name ?? '…'}</a> : null}</td>
            <td>{c.portal ? <Badge kind="success">{c.portal.role === 'account_cases' ? 'Account cases' : 'Own cases'}</Badge> : <span class="muted">No</span>}</td>
          </tr>
        )}
      />
    </div>
  );
}

function ContactNew() {
  useTitle('New contact');
  return (
    <NewRecordPage list="Contacts" listHref="#/contacts" title="New contact">
      <ContactForm contact={null} etag={null} onSaved={(c) => navigate(href(['contacts', c.id]))} onCancel={() => navigate('#/contacts')} />
    </NewRecordPage>
  );
}

function ContactDetail({ id }: { id: string }) {
  const loaded = useAsync(() => tagged(api.GET('/contacts/{id}', { params: { path: { id } } })), [id]);
  const [editing, setEditing] = useState(false);
  const contact = loaded.data?.data;
  const account = useRecord(accountById, contact?.account_id);
  useTitle(contact?.name ?? 'Contact');
  if (!contact) return <PagePending error={loaded.error} />;
  return (
    <RecordPage
      test="contact-detail"
      list="Contacts"
      listHref="#/contacts"
      title={contact.name}
      editing={editing}
      onEdit={() => setEditing(true)}
      editTest="contact-edit"
      related={<RelatedCaseList query={{ contact_id: contact.id }} newCaseHref={href(['cases', 'new'], { contact: contact.id })} />}
    >
      {editing ? (
        <ContactForm
          contact={contact}
          etag={loaded.data!.etag}
          onSaved={(c) => {
            contactById.set(c.id, c);
            contacts.put(c);
            setEditing(false);
            loaded.reload();
          }}
          onCancel={() => setEditing(false)}
        />
      ) : (
        <section class="card" aria-label="Contact details">
          <dl class="dl">
            <dt>Email</dt>
            <dd>{contact.emails.join(', ') || '—'}</dd>
            <dt>Phone</dt>
            <dd>{contact.phone || '—'}</dd>
            <dt>Account</dt>
            <dd>{contact.account_id ? <a href={href(['accounts', contact.account_id])}>{account?.name ?? '…'}</a> : '—'}</dd>
            <dt>Portal access</dt>
            <dd>
              {contact.portal
                ? `${contact.portal.role === 'account_cases' ? "Sees their account's cases" : 'Sees their own cases'}${contact.portal.can_create_cases === false ? ', cannot open cases' : ''}`
                : 'None'}
            </dd>
          </dl>
        </section>
      )}
    </RecordPage>
  );
}

function ContactForm({ contact, etag, onSaved, onCancel }: { contact: Contact | null; etag: string | null; onSaved: (c: Contact) => void; onCancel: () => void }) {
  const { isAdmin } = useSession();
  const locked = !!contact && !isAdmin;
  const [name, setName] = useState(contact?.name ?? '');
  const [emails, setEmails] = useState((contact?.emails ?? []).join('\n'));
  const [phone, setPhone] = useState(contact?.phone ?? '');
  const [accountId, setAccountId] = useState<string | null>(contact?.account_id ?? null);
  const [portal, setPortal] = useState<string>(contact?.portal?.role ?? '');
  const { busy, error, onSubmit } = useSave({ leaves: true, conflict: 'This contact was changed by someone else. Cancel and open it again.' });
  const submit = onSubmit(async () => {
    const body: Record<string, unknown> = { name: name.trim(), phone: phone.trim() || null };
    if (!locked) {
      body.emails = splitList(emails);
      body.account_id = accountId;
      body.portal = portal ? { role: portal, can_create_cases: contact?.portal?.can_create_cases ?? true } : null;
    }
    const saved = contact
      ? await ok(api.PATCH('/contacts/{id}', { params: { path: { id: contact.id }, header: { 'If-Match': etag ?? undefined } }, body }))
      : await ok(api.POST('/contacts', { body: body as { name: string } }));
    contacts.put(saved);
    onSaved(saved);
  });
  const lockHint = locked ? 'Only admins change this: it decides what the customer sees.' : undefined;
  return (
    <form class="card" onSubmit={submit} aria-label={contact ? `Edit ${contact.name}` : 'New contact'} data-test="contact-form">
      <ErrorAlert error={error} shown={['name', 'emails', 'phone', 'account_id', 'portal']} />
      <TextField label="Name" value={name} onValue={setName} required test="contact-name" error={fieldError(error, 'name')} />
      <TextArea label="Email addresses" rows={2} value={emails} onValue={setEmails} disabled={locked} hint={lockHint ?? 'One per line; the first is preferred.'} test="contact-emails" error={fieldError(error, 'emails')} />
      <TextField label="Phone" type="tel" value={phone} onValue={setPhone} test="contact-phone" error={fieldError(error, 'phone')} />
      <Picker
        label="Account"
        cache={accounts}
        value={accountId ? [accountId] : []}
        onChange={(ids) => setAccountId(ids[0] ?? null)}
        name={(a) => a.name}
        detail={(a) => a.email_domains.join(', ')}
        disabled={locked}
        test="contact-account"
        error={fieldError(error, 'account_id')}
      />
      <SelectField
        label="Customer portal"
        value={portal}
        onValue={setPortal}
        disabled={locked}
        options={[
          { value: '', label: 'No access' },
          { value: 'own_cases', label: 'Own cases' },
          { value: 'account_cases', label: "Their account's cases" },
        ]}
        hint={lockHint}
        test="contact-portal"
        error={fieldError(error, 'portal')}
      />
      <FormActions busy={busy} save={contact ? 'Save' : 'Create contact'} test="contact-save" onCancel={onCancel} />
    </form>
  );
}
