// A type-ahead picker (ARIA combobox with a listbox) over a cached directory list.
import { useMemo, useRef, useState } from 'preact/hooks';
import { useId } from '../hooks';
import { type ListCache, useList } from '../directory';
import { FieldNotes } from './controls';

interface PickerProps<T extends { id: string }> {
  label: string;
  cache: ListCache<T>;
  /** Selected ids (one for a single picker). */
  value: string[];
  onChange: (ids: string[]) => void;
  multiple?: boolean;
  /** Main text of an item. */
  name: (item: T) => string;
  /** Secondary text (an address, a domain). */
  detail?: (item: T) => string;
  placeholder?: string;
  test?: string;
  error?: string | null;
  disabled?: boolean;
  /** Text of a selected id that is not in the list (not loaded, or not visible). */
  fallback?: (id: string) => string;
  hideLabel?: boolean;
  /** Ids not to offer (already chosen elsewhere). */
  exclude?: string[];
}

const MAX_SHOWN = 8;

export function Picker<T extends { id: string }>(props: PickerProps<T>) {
  const { label, cache, value, onChange, multiple, name, detail, placeholder, test, error, disabled, fallback, hideLabel, exclude } = props;
  const id = useId('pick');
  const items = useList(cache);
  const [query, setQuery] = useState('');
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);

  const matches = useMemo(() => {
    const q = query.trim().toLowerCase();
    const pool = (items ?? []).filter((i) => !value.includes(i.id) && !exclude?.includes(i.id));
    const found = q ? pool.filter((i) => `${name(i)} ${detail?.(i) ?? ''}`.toLowerCase().includes(q)) : pool;
    return found.slice(0, MAX_SHOWN);
  }, [items, query, value, name, detail, exclude]);

  const choose = (item: T) => {
    onChange(multiple ? [...value, item.id] : [item.id]);
    setQuery('');
    setOpen(false);
    setActive(0);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      setOpen(true);
      setActive((a) => Math.min(a + 1, Math.max(matches.length - 1, 0)));
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setActive((a) => Math.max(a - 1, 0));
    } else if (e.key === 'Enter') {
      if (open && matches[active]) {
        e.preventDefault();
        choose(matches[active]);
      }
    } else if (e.key === 'Escape') {
      if (open) {
        e.preventDefault();
        e.stopPropagation();
        setOpen(false);
      }
    }
  };

  const label_ = (sid: string) => {
    const item = items?.find((i) => i.id === sid);
    return item ? name(item) : (fallback?.(sid) ?? (items ? 'Unknown' : '…'));
  };
  const listId = `${id}-list`;
  const showList = open && !disabled && (matches.length > 0 || query.length > 0);

  return (
    <div class="field picker" data-test={test}>
      <label for={id} class={hideLabel ? 'sr-only' : undefined}>
        {label}
      </label>
      {value.length > 0 ? (
        <ul class="chips" aria-label={`Selected: ${label}`}>
          {value.map((sid) => (
            <li key={sid} class="chip">
              <span>{label_(sid)}</span>
              {!disabled ? (
                <button type="button" class="chip-remove" aria-label={`Remove ${label_(sid)}`} onClick={() => onChange(value.filter((v) => v !== sid))}>
                  ×
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
      {multiple || value.length === 0 ? (
        <div class="combo">
          <input
            ref={input}
            id={id}
            type="text"
            role="combobox"
            autocomplete="off"
            aria-autocomplete="list"
            aria-expanded={showList ? 'true' : 'false'}
            aria-controls={listId}
            aria-activedescendant={showList && matches[active] ? `${id}-opt-${active}` : undefined}
            aria-invalid={error ? 'true' : undefined}
            aria-describedby={error ? `${id}-err` : undefined}
            placeholder={placeholder ?? 'Type to search…'}
            value={query}
            disabled={disabled}
            data-test={test ? `${test}-input` : undefined}
            onInput={(e) => {
              setQuery(e.currentTarget.value);
              setOpen(true);
              setActive(0);
            }}
            onFocus={() => setOpen(true)}
            onBlur={() => window.setTimeout(() => setOpen(false), 150)}
            onKeyDown={onKeyDown}
          />
          {showList && matches.length === 0 ? <div class="combo-list combo-empty">{items === null ? 'Loading…' : 'No match'}</div> : null}
          <ul id={listId} role="listbox" aria-label={label} class="combo-list" hidden={!showList || matches.length === 0}>
            {matches.map((m, i) => (
              <li
                key={m.id}
                id={`${id}-opt-${i}`}
                role="option"
                aria-selected={i === active ? 'true' : 'false'}
                class={i === active ? 'active' : undefined}
                data-test={test ? `${test}-option` : undefined}
                onMouseDown={(e) => {
                  e.preventDefault();
                  choose(m);
                }}
                onMouseEnter={() => setActive(i)}
              >
                <span class="opt-name">{name(m)}</span>
                {detail ? <span class="opt-detail">{detail(m)}</span> : null}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <FieldNotes id={id} error={error} />
    </div>
  );
}
