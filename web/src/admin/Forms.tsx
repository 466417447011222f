// Web forms: what each asks for, where its cases go, who may embed it, its limits and counts,
// and the snippet to put on the company's site.
import { useState } from 'preact/hooks';
import { api, apiUrl, ok, tagged, type Schemas } from '../api/client';
import type { WebForm } from '../api/types';
import { mailboxes, teams, useList } from '../directory';
import { splitList } from '../format';
import { useAsync, useSave } from '../hooks';
import { href, navigate } from '../router';
import { Badge, Crumbs, CheckField, ErrorAlert, FormActions, fieldError, Loading, PageHeader, SelectField, TextArea, TextField } from '../ui/controls';
import { ListTable } from '../ui/Table';

type Requirement = Schemas['Requirement'];

export function Forms({ id }: { id?: string | undefined }) {
  if (!id) return <FormList />;
  return <FormEditor id={id} key={id} />;
}

function FormList() {
  const list = useAsync(() => ok(api.GET('/forms', { params: { query: { limit: 100 } } })).then((p) => p.items), []);
  const mailboxList = useList(mailboxes);
  return (
    <>
      <PageHeader title="Web forms" sub="Forms on your site that open cases.">
        <a class="btn btn-primary" href="#/admin/forms/new" data-test="form-new">
          New web form
        </a>
      </PageHeader>
      <ErrorAlert error={list.error} />
      <ListTable
        items={list.data}
        empty="No web forms yet."
        test="form-table"
        columns={['Name', 'Mailbox', 'Allowed origins', 'State']}
        row={(f) => (
          <tr key={f.id} data-test="form-row">
            <td>
              <a href={href(['admin', 'forms', f.id])}>{f.name}</a>
            </td>
            <td>{mailboxList?.find((m) => m.id === f.mailbox_id)?.name ?? <span class="muted">None</span>}</td>
            <td>{f.allowed_origins.join(', ') || <span class="muted">This site only</span>}</td>
            <td>{f.enabled ? <Badge kind="success">Enabled</Badge> : <Badge kind="neutral">Disabled</Badge>}</td>
          </tr>
        )}
      />
    </>
  );
}

function FormEditor({ id }: { id: string }) {
  const isNew = id === 'new';
  const loaded = useAsync(() => (isNew ? Promise.resolve(null) : tagged(api.GET('/forms/{form_id}', { params: { path: { form_id: id } } }))), [id]);
  if (loaded.error) return <ErrorAlert error={loaded.error} />;
  if (loaded.loading) return <Loading />;
  const form = loaded.data?.data ?? null;
  return (
    <>
      <Crumbs list="Web forms" listHref="#/admin/forms" here={form ? form.name : 'New web form'} />
      <PageHeader title={form ? form.name : 'New web form'} />
      <FormFields form={form} etag={loaded.data?.etag ?? null} onSaved={() => loaded.reload()} />
      {form ? <Embed form={form} /> : null}
    </>
  );
}

function FormFields({ form, etag, onSaved }: { form: WebForm | null; etag: string | null; onSaved: () => void }) {
  const teamList = useList(teams);
  const mailboxList = useList(mailboxes);
  const [name, setName] = useState(form?.name ?? '');
  const [enabled, setEnabled] = useState(form?.enabled ?? true);
  const [mailbox, setMailbox] = useState(form?.mailbox_id ?? '');
  const [team, setTeam] = useState(form?.team_id ?? '');
  const [origins, setOrigins] = useState((form?.allowed_origins ?? []).join('\n'));
  const [fName, setFName] = useState<Requirement>(form?.fields.name ?? 'optional');
  const [fSubject, setFSubject] = useState<Requirement>(form?.fields.subject ?? 'optional');
  const [fMessage, setFMessage] = useState<Requirement>(form?.fields.message ?? 'required');
  const [perForm, setPerForm] = useState(String(form?.rate_limits.per_form_per_minute ?? ''));
  const [perIp, setPerIp] = useState(String(form?.rate_limits.per_ip_per_hour ?? ''));
  const [perSender, setPerSender] = useState(String(form?.rate_limits.per_sender_per_hour ?? ''));
  const { busy, error, onSubmit } = useSave();
  const [saved, setSaved] = useState(false);
  const int = (v: string) => (v.trim() === '' ? undefined : Number(v));
  const submit = onSubmit(async () => {
    setSaved(false);
    const body = {
      name: name.trim(),
      enabled,
      mailbox_id: mailbox || null,
      team_id: team || null,
      allowed_origins: splitList(origins),
      fields: { name: fName, subject: fSubject, message: fMessage },
      rate_limits: { per_form_per_minute: int(perForm), per_ip_per_hour: int(perIp), per_sender_per_hour: int(perSender) },
    };
    if (form) {
      await ok(api.PATCH('/forms/{form_id}', { params: { path: { form_id: form.id }, header: { 'If-Match': etag ?? `"${form.version}"` } }, body }));
      setSaved(true);
      onSaved();
    } else {
      const created = await ok(api.POST('/forms', { body }));
      navigate(href(['admin', 'forms', created.id]), true);
    }
  });
  const req = [
    { value: 'required', label: 'Required' },
    { value: 'optional', label: 'Optional' },
  ];
  return (
    <form class="card" onSubmit={submit} aria-label="Web form settings" data-test="form-form">
      {saved ? <p class="alert alert-success" role="status">Saved.</p> : null}
      <ErrorAlert error={error} shown={['name', 'mailbox_id', 'team_id', 'allowed_origins', 'fields', 'rate_limits']} />
      <div class="form-grid">
        <TextField label="Name" value={name} onValue={setName} required test="form-name" error={fieldError(error, 'name')} />
        <CheckField label="Enabled (accepts submissions)" checked={enabled} onChecked={setEnabled} test="form-enabled" />
        <SelectField
          label="Group mailbox"
          value={mailbox}
          onValue={setMailbox}
          options={[{ value: '', label: 'None' }, ...(mailboxList ?? []).map((m) => ({ value: m.id, label: m.name }))]}
          hint="Mail about the new cases carries its Reply-To."
          error={fieldError(error, 'mailbox_id')}
        />
        <SelectField
          label="Team"
          value={team}
          onValue={setTeam}
          options={[{ value: '', label: "The mailbox's team" }, ...(teamList ?? []).map((t) => ({ value: t.id, label: t.name }))]}
          error={fieldError(error, 'team_id')}
        />
        <TextArea
          class="span-2"
          label="Allowed origins"
          rows={2}
          value={origins}
          onValue={setOrigins}
          hint="One per line, e.g. https://www.example.com: the sites that may embed and post this form."
          test="form-origins"
          error={fieldError(error, 'allowed_origins')}
        />
      </div>
      <fieldset>
        <legend>Fields (the email address is always required)</legend>
        <div class="form-grid">
          <SelectField label="Name" value={fName} onValue={(v) => setFName(v as Requirement)} options={req} />
          <SelectField label="Subject" value={fSubject} onValue={(v) => setFSubject(v as Requirement)} options={req} />
          <SelectField label="Message" value={fMessage} onValue={(v) => setFMessage(v as Requirement)} options={req} />
        </div>
      </fieldset>
      <fieldset>
        <legend>Rate limits (empty for the default)</legend>
        <div class="form-grid">
          <TextField label="Per form, per minute" type="number" min={0} value={perForm} onValue={setPerForm} />
          <TextField label="Per client IP, per hour" type="number" min={0} value={perIp} onValue={setPerIp} />
          <TextField label="Per sender address, per hour" type="number" min={0} value={perSender} onValue={setPerSender} />
        </div>
      </fieldset>
      <FormActions busy={busy} save={form ? 'Save' : 'Create web form'} test="form-save" cancelHref="#/admin/forms" />
    </form>
  );
}

/** Text for a double-quoted HTML attribute. */
function attr(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function Embed({ form }: { form: WebForm }) {
  const stats = useAsync(() => ok(api.GET('/forms/{form_id}/stats', { params: { path: { form_id: form.id } } })), [form.id]);
  const [copied, setCopied] = useState<string | null>(null);
  const base = `${location.origin}${apiUrl('')}`;
  const embedUrl = `${base}/forms/${encodeURIComponent(form.id)}/embed.html`;
  const postUrl = `${base}/forms/${encodeURIComponent(form.id)}/submissions`;
  // For the company's own site (not served under this app's CSP): a lazily loaded, borderless frame.
  const iframe = `<iframe src="${embedUrl}" title="${attr(form.name)}" loading="lazy" style="border:0;width:100%;min-height:40rem"></iframe>`;
  const plain = `<form method="post" action="${postUrl}" accept-charset="utf-8">
  <label>Name <input name="name"></label>
  <label>Email <input name="email" type="email" required></label>
  <label>Subject <input name="subject"></label>
  <label>Message <textarea name="message" required></textarea></label>
  <input name="website" tabindex="-1" autocomplete="off" hidden>
  <button>Send</button>
</form>`;
  const script = `<form id="docket-form">
  <input name="name" placeholder="Your name">
  <input name="email" type="email" required placeholder="Email">
  <input name="subject" placeholder="Subject">
  <textarea name="message" required></textarea>
  <input name="website" tabindex="-1" autocomplete="off" hidden>
  <button>Send</button>
</form>
<script>
document.getElementById('docket-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const data = Object.fromEntries(new FormData(e.target));
  const r = await fetch('${postUrl}', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(data),
  });
  e.target.replaceWith((await r.json()).detail);
});
</script>`;
  const copy = async (label: string, text: string) => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(label);
    } catch {
      setCopied(null);
    }
  };
  return (
    <div class="split">
      <section class="card" aria-labelledby="embed-h" data-test="form-embed">
        <h2 id="embed-h">Put it on your site</h2>
        <div data-test="embed-iframe">
          <label for={`embed-${form.id}`}>Embed the ready-made page (no scripts; only the allowed origins may frame it):</label>
          <textarea
            id={`embed-${form.id}`}
            class="snippet"
            readOnly
            rows={3}
            value={iframe}
            data-test="form-embed-snippet"
            onFocus={(e) => e.currentTarget.select()}
          />
          <button type="button" class="btn btn-sm" onClick={() => void copy('iframe', iframe)}>
            {copied === 'iframe' ? 'Copied' : 'Copy iframe snippet'}
          </button>
        </div>
        <p>Or put a plain HTML form on a page of an allowed origin (the answer is a page):</p>
        <pre class="snippet" data-test="embed-form">{plain}</pre>
        <button type="button" class="btn btn-sm" onClick={() => void copy('form', plain)}>
          {copied === 'form' ? 'Copied' : 'Copy form snippet'}
        </button>
        <p>Or post it with a script and show the answer in place:</p>
        <pre class="snippet" data-test="embed-script">{script}</pre>
        <button type="button" class="btn btn-sm" onClick={() => void copy('script', script)}>
          {copied === 'script' ? 'Copied' : 'Copy script snippet'}
        </button>
      </section>
      <section class="card" aria-labelledby="stats-h" data-test="form-stats">
        <h2 id="stats-h">Submissions</h2>
        <ErrorAlert error={stats.error} />
        {stats.data ? (
          <dl class="dl">
            <dt>Accepted</dt>
            <dd>{stats.data.accepted ?? 0}</dd>
            <dt>Rate-limited</dt>
            <dd>{stats.data.rate_limited ?? 0}</dd>
            <dt>Caught by the honeypot</dt>
            <dd>{stats.data.honeypot ?? 0}</dd>
          </dl>
        ) : (
          <Loading />
        )}
        <p>
          <a href={embedUrl} target="_blank" rel="noopener noreferrer">
            Open the form page
          </a>
        </p>
      </section>
    </div>
  );
}
