// Display helpers.
import type { CaseStatus } from './api/types';

const STATUS_LABELS: Record<CaseStatus, string> = {
  New: 'New',
  Assigned: 'Assigned',
  InProgress: 'In progress',
  Reopened: 'Reopened',
  Pending: 'Pending',
  Resolved: 'Resolved',
  Closed: 'Closed',
  Rejected: 'Rejected',
  Duplicate: 'Duplicate',
  Cancelled: 'Cancelled',
};

export function statusLabel(s: CaseStatus): string {
  return STATUS_LABELS[s] ?? s;
}

export type StatusGroup = 'open' | 'waiting' | 'final';
export function statusGroup(s: CaseStatus): StatusGroup {
  if (s === 'Pending' || s === 'Resolved') return 'waiting';
  if (s === 'Closed' || s === 'Rejected' || s === 'Duplicate' || s === 'Cancelled') return 'final';
  return 'open';
}

const SOURCE_LABELS: Record<string, string> = { api: 'API', web_form: 'Web form', email: 'Email', portal: 'Portal', phone: 'Phone', workflow: 'Workflow' };
export function sourceLabel(s: string): string {
  return SOURCE_LABELS[s] ?? humanize(s);
}

/** `web_form` → `Web form`. */
export function humanize(s: string): string {
  const t = s.replace(/_/g, ' ');
  return t.charAt(0).toUpperCase() + t.slice(1);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

export function fullTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

/** Short: a time today, a date otherwise. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return timeOnly.format(d);
  if (d.getFullYear() === now.getFullYear()) return dateOnly.format(d);
  return d.toLocaleDateString();
}

/** "3 min ago", "2 h ago", then the date. */
export function relativeTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  const seconds = (Date.now() - d.getTime()) / 1000;
  if (Number.isNaN(seconds)) return iso;
  if (seconds < 45) return 'just now';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  if (seconds < 7 * 86400) return `${Math.round(seconds / 86400)} d ago`;
  return shortTime(iso);
}

export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Splits a comma- or newline-separated list, trimming and dropping blanks. */
export function splitList(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
