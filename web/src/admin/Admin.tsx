// Administration (admins only; the navigation hides it from agents and the API refuses them).
import { useSession } from '../session';
import { useTitle } from '../hooks';
import { Users, Teams } from './People';
import { Mailboxes } from './Mailboxes';
import { SettingsPage } from './Settings';
import { Rules } from './Rules';
import { Forms } from './Forms';
import { InboundLog } from './InboundLog';
import { Calendars } from './Calendars';
import { Agreements } from './Agreements';

const SECTIONS = [
  { key: 'users', label: 'Users' },
  { key: 'teams', label: 'Teams' },
  { key: 'mailboxes', label: 'Group mailboxes' },
  { key: 'settings', label: 'Settings' },
  { key: 'rules', label: 'Workflow rules' },
  { key: 'forms', label: 'Web forms' },
  { key: 'calendars', label: 'Calendars' },
  { key: 'agreements', label: 'Service agreements' },
  { key: 'inbound', label: 'Inbound log' },
];

export function Admin({ section = 'users', id, query }: { section?: string | undefined; id?: string | undefined; query: URLSearchParams }) {
  const { isAdmin } = useSession();
  useTitle(`Admin · ${SECTIONS.find((s) => s.key === section)?.label ?? ''}`);
  if (!isAdmin) {
    return (
      <div class="page">
        <h1>Administration</h1>
        <p>Only administrators can change users, teams, mailboxes, rules, service agreements and settings.</p>
      </div>
    );
  }
  return (
    <div class="page page-wide admin-layout">
      <nav class="subnav" aria-label="Administration">
        <ul>
          {SECTIONS.map((s) => (
            <li key={s.key}>
              <a href={`#/admin/${s.key}`} aria-current={section === s.key ? 'page' : undefined} data-test={`admin-${s.key}`}>
                {s.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <div class="admin-main">
        <Section section={section} id={id} query={query} />
      </div>
    </div>
  );
}

function Section({ section, id, query }: { section: string; id?: string | undefined; query: URLSearchParams }) {
  switch (section) {
    case 'users':
      return <Users />;
    case 'teams':
      return <Teams />;
    case 'mailboxes':
      return <Mailboxes />;
    case 'settings':
      return <SettingsPage />;
    case 'rules':
      return <Rules id={id} />;
    case 'forms':
      return <Forms id={id} />;
    case 'calendars':
      return <Calendars id={id} />;
    case 'agreements':
      return <Agreements id={id} />;
    case 'inbound':
      return <InboundLog query={query} />;
    default:
      return <p>Unknown section.</p>;
  }
}
