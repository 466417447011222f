// Form controls with their labels, hints and errors wired for assistive technology.
import type { ComponentChildren, TextareaHTMLAttributes } from 'preact';
import { useState } from 'preact/hooks';
import { useId } from '../hooks';
import type { ApiError } from '../api/client';
import type { CaseStatus, Priority } from '../api/types';
import { fullTime, relativeTime, statusGroup, statusLabel } from '../format';

/** The error's message when it names this field (or a part of it: `emails[1]`). */
export function fieldError(error: ApiError | null | undefined, ...names: string[]): string | null {
  const f = error?.field;
  if (!f) return null;
  return names.some((n) => f === n || f.startsWith(`${n}[`) || f.startsWith(`${n}.`)) ? error!.message : null;
}

interface FieldProps {
  label: string;
  hint?: ComponentChildren;
  error?: string | null;
  class?: string;
  test?: string;
}

function describedBy(id: string, hint: unknown, error: unknown): string | undefined {
  const ids = [hint ? `${id}-hint` : '', error ? `${id}-err` : ''].filter(Boolean).join(' ');
  return ids || undefined;
}

/** The id, test hook and hint/error wiring of a labelled control. */
function controlAttrs(id: string, test: string | undefined, hint: unknown, error: unknown) {
  return { id, 'data-test': test, 'aria-invalid': error ? ('true' as const) : undefined, 'aria-describedby': describedBy(id, hint, error) };
}

/** A field's hint and error under its control (ids as `describedBy` names them). */
export function FieldNotes({ id, hint, error }: { id: string; hint?: ComponentChildren; error?: string | null }) {
  return (
    <>
      {hint ? (
        <div class="hint" id={`${id}-hint`}>
          {hint}
        </div>
      ) : null}
      {error ? (
        <div class="field-error" id={`${id}-err`}>
          {error}
        </div>
      ) : null}
    </>
  );
}

interface InputAttrs {
  placeholder?: string;
  required?: boolean;
  disabled?: boolean;
  autocomplete?: string;
  autoFocus?: boolean;
  min?: number;
  max?: number;
  maxLength?: number;
  /** The id of a `<datalist>` of suggestions (time zones). */
  list?: string;
  onBlur?: () => void;
  onKeyDown?: (e: KeyboardEvent) => void;
}

export function TextField(
  props: FieldProps & InputAttrs & { value: string; onValue: (v: string) => void; type?: 'text' | 'email' | 'search' | 'url' | 'tel' | 'number' | 'date' },
) {
  const { label, hint, error, class: cls, test, value, onValue, type = 'text', ...rest } = props;
  const id = useId('in');
  return (
    <div class={`field ${cls ?? ''}`}>
      <label for={id}>{label}</label>
      <input
        {...(rest as Record<string, unknown>)}
        {...controlAttrs(id, test, hint, error)}
        type={type as 'text'}
        value={value}
        onInput={(e) => onValue(e.currentTarget.value)}
      />
      <FieldNotes id={id} hint={hint} error={error} />
    </div>
  );
}

type AreaAttrs = Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, 'label' | 'value' | 'onInput' | 'class'>;

export function TextArea(props: FieldProps & AreaAttrs & { value: string; onValue: (v: string) => void }) {
  const { label, hint, error, class: cls, test, value, onValue, ...rest } = props;
  const id = useId('ta');
  return (
    <div class={`field ${cls ?? ''}`}>
      <label for={id}>{label}</label>
      <textarea
        {...rest}
        {...controlAttrs(id, test, hint, error)}
        value={value}
        onInput={(e) => onValue(e.currentTarget.value)}
      />
      <FieldNotes id={id} hint={hint} error={error} />
    </div>
  );
}

export interface Option {
  value: string;
  label: string;
}

export function SelectField(
  props: FieldProps & {
    value: string;
    onValue: (v: string) => void;
    options: Option[];
    disabled?: boolean;
    required?: boolean;
  },
) {
  const { label, hint, error, class: cls, test, value, onValue, options, disabled, required } = props;
  const id = useId('sel');
  return (
    <div class={`field ${cls ?? ''}`}>
      <label for={id}>{label}</label>
      <select
        {...controlAttrs(id, test, hint, error)}
        value={value}
        disabled={disabled}
        required={required}
        onChange={(e) => onValue(e.currentTarget.value)}
      >
        {options.map((o) => (
          // The value attribute is set even when it equals the text (Preact skips it then), so
          // `option[value=…]` selectors work in tests.
          <option key={o.value} value={o.value} ref={(el) => el?.setAttribute('value', o.value)}>
            {o.label}
          </option>
        ))}
      </select>
      <FieldNotes id={id} hint={hint} error={error} />
    </div>
  );
}

export function CheckField(
  props: FieldProps & { checked: boolean; onChecked: (v: boolean) => void; disabled?: boolean },
) {
  const { label, hint, error, class: cls, test, checked, onChecked, disabled } = props;
  const id = useId('cb');
  return (
    <div class={`field check ${cls ?? ''}`}>
      <input
        id={id}
        type="checkbox"
        checked={checked}
        disabled={disabled}
        data-test={test}
        aria-describedby={describedBy(id, hint, error)}
        onChange={(e) => onChecked(e.currentTarget.checked)}
      />
      <label for={id}>{label}</label>
      <FieldNotes id={id} hint={hint} error={error} />
    </div>
  );
}

/** A problem from the API that belongs to no one field, or to a field not on screen. */
export function ErrorAlert({ error, shown = [], test }: { error: ApiError | null | undefined; shown?: string[]; test?: string }) {
  if (!error) return null;
  if (error.field && shown.some((n) => fieldError(error, n))) return null;
  return (
    <div class="alert alert-error" role="alert" data-test={test ?? 'error'}>
      <strong>{error.problem.title && error.status ? error.problem.title : 'Error'}:</strong> {error.message}
      {error.field ? <span class="alert-field"> (field: {error.field})</span> : null}
    </div>
  );
}

/** A form's buttons: submit ("Saving…" while busy), Cancel as a button or a link, then any others. */
export function FormActions({ busy, save, test, onCancel, cancelHref, children }: { busy: boolean; save: string; test: string; onCancel?: () => void; cancelHref?: string; children?: ComponentChildren }) {
  return (
    <div class="form-actions">
      <button type="submit" class="btn btn-primary" disabled={busy} data-test={test}>
        {busy ? 'Saving…' : save}
      </button>
      {onCancel ? (
        <button type="button" class="btn btn-quiet" onClick={onCancel}>
          Cancel
        </button>
      ) : cancelHref ? (
        <a class="btn btn-quiet" href={cancelHref}>
          Cancel
        </a>
      ) : null}
      {children}
    </div>
  );
}

/**
 * A record's form in a card, opened over its list: a heading, the API's refusal, the fields in a
 * grid, then Save and Cancel.
 */
export function EditCard(props: {
  label: string;
  title: string;
  test: string;
  onSubmit: (e: Event) => void;
  error: ApiError | null;
  shown: string[];
  busy: boolean;
  save: string;
  saveTest: string;
  onCancel: () => void;
  children: ComponentChildren;
}) {
  const { label, title, test, onSubmit, error, shown, busy, save, saveTest, onCancel, children } = props;
  return (
    <form class="card" onSubmit={onSubmit} aria-label={label} data-test={test}>
      <h2>{title}</h2>
      <ErrorAlert error={error} shown={shown} />
      <div class="form-grid">{children}</div>
      <FormActions busy={busy} save={save} test={saveTest} onCancel={onCancel} />
    </form>
  );
}

export function Notice({ children, kind = 'info', test }: { children: ComponentChildren; kind?: 'info' | 'success' | 'warning'; test?: string }) {
  return (
    <div class={`alert alert-${kind}`} role="status" data-test={test}>
      {children}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p class="loading" role="status">
      {label}
    </p>
  );
}

/** A screen's place below its list: "List / here". */
export function Crumbs({ list, listHref, here }: { list: string; listHref: string; here: ComponentChildren }) {
  return (
    <p class="crumbs">
      <a href={listHref}>{list}</a> / {here}
    </p>
  );
}

/** A screen whose record is still loading, or could not be. */
export function PagePending({ error }: { error: ApiError | null }) {
  return <div class="page">{error ? <ErrorAlert error={error} /> : <Loading />}</div>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** A moment as `show` words it (by default "3 hours ago"), the full date and time on hover. */
export function Time({ at, show = relativeTime, class: cls }: { at: string; show?: (iso: string) => string; class?: string }) {
  return (
    <time class={cls} dateTime={at} title={fullTime(at)}>
      {show(at)}
    </time>
  );
}

export function StatusBadge({ status }: { status: CaseStatus }) {
  return <span class={`badge status-${statusGroup(status)} status-${status}`}>{statusLabel(status)}</span>;
}

export function PriorityBadge({ priority }: { priority: Priority }) {
  return <span class={`prio prio-${priority}`}>{priority}</span>;
}

export function Badge({ children, kind = 'neutral' }: { children: ComponentChildren; kind?: string }) {
  return <span class={`badge badge-${kind}`}>{children}</span>;
}

export function PageHeader({ title, children, sub }: { title: ComponentChildren; children?: ComponentChildren; sub?: ComponentChildren }) {
  return (
    <div class="page-header">
      <div>
        <h1>{title}</h1>
        {sub ? <div class="page-sub">{sub}</div> : null}
      </div>
      {children ? <div class="page-actions">{children}</div> : null}
    </div>
  );
}

/**
 * Signs out with `signOut` and then calls `onDone`, also when the session was already gone:
 * either way the person is out.
 */
export function SignOutButton({ signOut, onDone, look, test }: { signOut: () => Promise<void>; onDone: () => void; look: string; test: string }) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class={`btn ${look}`}
      data-test={test}
      disabled={busy}
      onClick={async () => {
        setBusy(true);
        try {
          await signOut();
        } catch {
          // Already signed out (an ended session or a network failure): nothing to undo.
        }
        setBusy(false);
        onDone();
      }}
    >
      Sign out
    </button>
  );
}
