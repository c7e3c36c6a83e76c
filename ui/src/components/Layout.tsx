// The application shell: left navigation (a drawer in narrow windows), a header with the
// signed-in user and sign-out, and the page.
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { useAuth, useMe } from '../auth';
import { Link, useLocation } from '../router';
import type { Permission } from '../api-types';
import { Icon, type IconName } from './Icon';
import './Layout.css';

interface NavItem {
  to: string;
  label: string;
  icon: IconName;
  need?: Permission[];
  exact?: boolean;
}

export const NAV: { section: string; items: NavItem[] }[] = [
  {
    section: '',
    items: [
      { to: '/', label: 'My access', icon: 'key', exact: true },
      { to: '/access', label: 'Access requests', icon: 'clipboard' },
      { to: '/personal', label: 'Personal credentials', icon: 'lock' },
      { to: '/applications', label: 'Manage Applications', icon: 'shield' },
    ],
  },
  {
    section: 'Sessions',
    items: [
      { to: '/sessions/live', label: 'Live sessions', icon: 'activity', need: ['manage_sessions'] },
      { to: '/recordings', label: 'Recordings', icon: 'film', need: ['view_recordings'] },
    ],
  },
  {
    section: 'Administration',
    items: [
      { to: '/admin/secrets', label: 'Secrets & folders', icon: 'lock', need: ['manage_secrets', 'all_secrets'] },
      { to: '/admin/users', label: 'Users', icon: 'user', need: ['administer'] },
      { to: '/admin/groups', label: 'Groups', icon: 'users', need: ['administer'] },
      { to: '/admin/roles', label: 'Roles', icon: 'shield', need: ['administer'] },
      { to: '/admin/access-policies', label: 'Access policies', icon: 'clipboard', need: ['administer'] },
      { to: '/admin/access-levels', label: 'Access levels', icon: 'clipboard', need: ['administer'] },
      { to: '/admin/templates', label: 'Templates', icon: 'template', need: ['manage_templates'] },
      { to: '/admin/launchers', label: 'Launchers', icon: 'rocket', need: ['manage_templates'] },
      { to: '/admin/settings', label: 'Settings', icon: 'settings', need: ['administer'] },
      { to: '/admin/credential-provider', label: 'Credential provider', icon: 'key', need: ['administer'] },
      { to: '/admin/ldap', label: 'LDAP directory', icon: 'users', need: ['administer'] },
      { to: '/admin/oidc-providers', label: 'Single sign-on', icon: 'key', need: ['administer'] },
      { to: '/admin/audit', label: 'Audit log', icon: 'list', need: ['audit'] },
    ],
  },
];

const initials = (name: string) =>
  name
    .split(/[\s._@-]+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0]!.toUpperCase())
    .join('') || '?';

function UserMenu() {
  const me = useMe();
  const { signOut } = useAuth();
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (!ref.current?.contains(e.target as Node)) setOpen(false);
    };
    const esc = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', esc);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', esc);
    };
  }, [open]);
  const name = me.displayName || me.username;
  return (
    <div className="user-menu" ref={ref}>
      <button type="button" className="user-button" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
        <span className="avatar" aria-hidden="true">
          {initials(name)}
        </span>
        <span className="user-name">
          <span>{name}</span>
          <span className="user-sub">{me.roles.map((r) => r.name).join(', ') || me.username}</span>
        </span>
        <Icon name="chevronDown" />
      </button>
      {open && (
        <div className="menu" role="menu">
          <div className="menu-head">
            <strong>{name}</strong>
            <span className="muted">{me.username}</span>
          </div>
          <Link to="/account" role="menuitem" className="menu-item" onClick={() => setOpen(false)}>
            <Icon name="user" /> Account and security
          </Link>
          <button type="button" role="menuitem" className="menu-item" onClick={() => void signOut()}>
            <Icon name="logout" /> Sign out
          </button>
        </div>
      )}
    </div>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const me = useMe();
  const { path } = useLocation();
  const [navOpen, setNavOpen] = useState(false);
  useEffect(() => setNavOpen(false), [path]);
  const allowed = (i: NavItem) => !i.need || i.need.some((p) => me.can(p));
  const active = (i: NavItem) => (i.exact ? path === i.to : path === i.to || path.startsWith(i.to + '/'));
  return (
    <div className={`shell${navOpen ? ' nav-open' : ''}`}>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <aside className="sidebar">
        <Link to="/" className="brand">
          <svg width="26" height="26" viewBox="0 0 32 32" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="currentColor" />
            <path d="M8 26V13l8-6 8 6v13h-5v-7h-6v7z" fill="var(--sidebar-bg)" />
          </svg>
          <span>Gatehouse</span>
        </Link>
        <nav aria-label="Main navigation">
          {NAV.map((s) => {
            const items = s.items.filter(allowed);
            if (items.length === 0) return null;
            return (
              <div className="nav-section" key={s.section || 'main'}>
                {s.section && <div className="nav-heading">{s.section}</div>}
                {items.map((i) => (
                  <Link key={i.to} to={i.to} className={`nav-link${active(i) ? ' active' : ''}`} aria-current={active(i) ? 'page' : undefined}>
                    <Icon name={i.icon} size={18} />
                    <span>{i.label}</span>
                  </Link>
                ))}
              </div>
            );
          })}
        </nav>
        <div className="sidebar-foot">
          <Link to="/account" className={`nav-link${path === '/account' ? ' active' : ''}`}>
            <Icon name="settings" size={18} />
            <span>Account</span>
          </Link>
        </div>
      </aside>
      <div className="nav-scrim" onClick={() => setNavOpen(false)} aria-hidden="true" />
      <div className="main">
        <header className="topbar">
          <button type="button" className="nav-toggle" onClick={() => setNavOpen((o) => !o)} aria-label="Open navigation" aria-expanded={navOpen}>
            <Icon name="menu" size={20} />
          </button>
          <Link to="/" className="topbar-brand">
            Gatehouse
          </Link>
          <div className="topbar-spacer" />
          <UserMenu />
        </header>
        <main id="main" className="content" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}
