// Attaching files to a case, shared by the console's post box and the customer portal: each file
// is uploaded first (small ones in the request body, larger ones straight to the blob store
// through a presigned request) and then posted by its attachment id.
import { useState } from 'preact/hooks';
import { api, asApiError, check, ok, rawFetch } from './api/client';
import type { AttachmentRef } from './api/types';

/** Files up to this size go in the request body; larger ones straight to the blob store. */
const DIRECT_LIMIT = 5 * 1024 * 1024;

export interface Upload {
  key: string;
  name: string;
  size: number;
  state: 'uploading' | 'done' | 'failed';
  ref?: AttachmentRef;
  error?: string;
}

/** Uploads one file to a case; the answer names the attachment to post with an entry. */
export async function uploadFile(caseId: string, file: File): Promise<AttachmentRef> {
  const type = file.type || 'application/octet-stream';
  if (file.size <= DIRECT_LIMIT) {
    const r = await check(
      await rawFetch(`/cases/${encodeURIComponent(caseId)}/attachments?name=${encodeURIComponent(file.name)}`, {
        method: 'POST',
        headers: { 'Content-Type': type },
        body: file,
      }),
    );
    return (await r.json()) as AttachmentRef;
  }
  const ticket = await ok(
    api.POST('/cases/{case_ref}/attachments/uploads', {
      params: { path: { case_ref: caseId } },
      body: { name: file.name, content_type: type, size: file.size },
    }),
  );
  let put: Response;
  try {
    put = await fetch(ticket.upload_url, { method: ticket.method || 'PUT', headers: ticket.headers, body: file, credentials: 'omit' });
  } catch {
    throw new Error('The file could not be sent to storage.');
  }
  await check(put);
  return ok(
    api.POST('/cases/{case_ref}/attachments/uploads/{attachment_id}/complete', {
      params: { path: { case_ref: caseId, attachment_id: ticket.attachment_id } },
    }),
  );
}

export interface Uploads {
  uploads: Upload[];
  /** Starts uploading the files; each shows as a chip until done or failed. */
  add: (files: FileList | File[]) => void;
  remove: (key: string) => void;
  clear: () => void;
  /** Whether some file is still on its way. */
  uploading: boolean;
  /** The ids of the files uploaded, to post with the entry. */
  readyIds: string[];
}

/** The files being attached to a post on a case. */
export function useUploads(caseId: string): Uploads {
  const [uploads, setUploads] = useState<Upload[]>([]);
  const add = (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      const key = `${file.name}-${file.size}-${Math.random().toString(36).slice(2)}`;
      setUploads((u) => [...u, { key, name: file.name, size: file.size, state: 'uploading' }]);
      uploadFile(caseId, file).then(
        (ref) => setUploads((u) => u.map((x) => (x.key === key ? { ...x, state: 'done', ref } : x))),
        (e) => setUploads((u) => u.map((x) => (x.key === key ? { ...x, state: 'failed', error: asApiError(e).message } : x))),
      );
    }
  };
  return {
    uploads,
    add,
    remove: (key) => setUploads((l) => l.filter((x) => x.key !== key)),
    clear: () => setUploads([]),
    uploading: uploads.some((u) => u.state === 'uploading'),
    readyIds: uploads.filter((u) => u.state === 'done' && u.ref).map((u) => u.ref!.id),
  };
}
