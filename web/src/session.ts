import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { User } from './api/types';

export interface Session {
  me: User;
  isAdmin: boolean;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('no session');
  return s;
}
