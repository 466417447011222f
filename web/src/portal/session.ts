import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Schemas } from '../api/client';

export type Contact = Schemas['Contact'];

/** The signed-in customer and what the portal lets them do. */
export interface PortalSession {
  contact: Contact;
  /** me.contact.portal.can_create_cases */
  canCreate: boolean;
  /** Sees the cases of the whole account, not only their own. */
  accountCases: boolean;
}

export const PortalContext = createContext<PortalSession | null>(null);

export function usePortalSession(): PortalSession {
  const s = useContext(PortalContext);
  if (!s) throw new Error('no portal session');
  return s;
}
