// Small pieces several portal screens share: the "load more" button and the file field with its
// list of chosen files.
import { useState } from 'preact/hooks';
import { fileSize } from '../format';
import type { Pages } from '../hooks';

/** Loads the next page of `pages`, saying so while it does; nothing when there is no next page. */
export function MoreButton<T>({ pages, test }: { pages: Pages<T>; test?: string }) {
  const [loading, setLoading] = useState(false);
  if (!pages.next) return null;
  return (
    <div class="p-more">
      <button
        type="button"
        class="btn"
        disabled={loading}
        onClick={() => {
          setLoading(true);
          void pages.more().finally(() => setLoading(false));
        }}
        data-test={test}
      >
        {loading ? 'Loading…' : 'Load more'}
      </button>
    </div>
  );
}

/** A chosen file as the list shows it: its name, size and, while it uploads or if it failed, a note. */
export interface ChosenFile {
  key: string;
  name: string;
  size: number;
  note?: string;
}

/** "Attach files (optional)" with the files chosen so far, each removable. */
export function FileField({ id, test, files, label, onFiles, onRemove }: {
  id: string;
  test: string;
  files: ChosenFile[];
  /** What the list of chosen files is, for screen readers. */
  label: string;
  onFiles: (files: FileList) => void;
  onRemove: (key: string) => void;
}) {
  return (
    <div class="field">
      <label for={id}>Attach files (optional)</label>
      <input
        id={id}
        type="file"
        multiple
        data-test={test}
        onChange={(e) => {
          const chosen = e.currentTarget.files;
          if (chosen?.length) onFiles(chosen);
          e.currentTarget.value = '';
        }}
      />
      {files.length ? (
        <ul class="p-uploads" aria-label={label} aria-live="polite">
          {files.map((f) => (
            <li key={f.key} class="p-chip">
              <span>
                {f.name} <span class="p-muted">{fileSize(f.size)}</span>
                {f.note ? ` · ${f.note}` : ''}
              </span>
              <button type="button" class="p-chip-remove" aria-label={`Remove ${f.name}`} onClick={() => onRemove(f.key)}>
                ×
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
