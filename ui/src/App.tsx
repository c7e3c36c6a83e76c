// Routes, permission guards and the signed-in / signed-out switch.
import { Component, lazy, Suspense, type ErrorInfo, type ReactNode } from 'react';
import { AuthProvider, useAuth, useMe } from './auth';
import { Layout } from './components/Layout';
import { Empty, FeedbackProvider, Loading } from './components/ui';
import { Link, match, useLocation } from './router';
import type { Permission } from './api-types';
import { SignIn } from './pages/SignIn';
import { MyAccess } from './pages/MyAccess';
import { takeRdpPageParams } from './rdp-browser/params';

// Everything but sign-in and My access loads on first use; xterm and asciinema-player
// are in the terminal and recording chunks only.
const Terminal = lazy(() => import('./pages/Terminal'));
// The browser RDP page (issue 14): IronRDP's web client and its WASM load only here.
const RdpSession = lazy(() => import('./rdp-browser/RdpSession'));
const Watch = lazy(() => import('./pages/Watch'));
const JoinSession = lazy(() => import('./pages/JoinSession'));
const RecordingDetail = lazy(() => import('./pages/RecordingDetail'));
const AccessRequests = lazy(() => import('./pages/AccessRequests').then((m) => ({ default: m.AccessRequests })));
const Personal = lazy(() => import('./pages/Personal').then((m) => ({ default: m.Personal })));
const Account = lazy(() => import('./pages/Account').then((m) => ({ default: m.Account })));
const LiveSessions = lazy(() => import('./pages/LiveSessions').then((m) => ({ default: m.LiveSessions })));
const Recordings = lazy(() => import('./pages/Recordings').then((m) => ({ default: m.Recordings })));
const Users = lazy(() => import('./pages/admin/Users').then((m) => ({ default: m.Users })));
const UserEdit = lazy(() => import('./pages/admin/Users').then((m) => ({ default: m.UserEdit })));
const Groups = lazy(() => import('./pages/admin/Groups').then((m) => ({ default: m.Groups })));
const GroupEdit = lazy(() => import('./pages/admin/Groups').then((m) => ({ default: m.GroupEdit })));
const Roles = lazy(() => import('./pages/admin/Roles').then((m) => ({ default: m.Roles })));
const RoleEdit = lazy(() => import('./pages/admin/Roles').then((m) => ({ default: m.RoleEdit })));
const SecretsAdmin = lazy(() => import('./pages/admin/SecretsAdmin').then((m) => ({ default: m.SecretsAdmin })));
const SecretEdit = lazy(() => import('./pages/admin/SecretEdit').then((m) => ({ default: m.SecretEdit })));
const FolderEdit = lazy(() => import('./pages/admin/FolderEdit').then((m) => ({ default: m.FolderEdit })));
const Templates = lazy(() => import('./pages/admin/Templates').then((m) => ({ default: m.Templates })));
const TemplateEdit = lazy(() => import('./pages/admin/Templates').then((m) => ({ default: m.TemplateEdit })));
const Launchers = lazy(() => import('./pages/admin/Launchers').then((m) => ({ default: m.Launchers })));
const LauncherEdit = lazy(() => import('./pages/admin/Launchers').then((m) => ({ default: m.LauncherEdit })));
const AccessPolicies = lazy(() => import('./pages/admin/AccessPolicies').then((m) => ({ default: m.AccessPolicies })));
const AccessPolicyEdit = lazy(() => import('./pages/admin/AccessPolicies').then((m) => ({ default: m.AccessPolicyEdit })));
const AccessLevels = lazy(() => import('./pages/admin/AccessLevels').then((m) => ({ default: m.AccessLevels })));
const AccessLevelEdit = lazy(() => import('./pages/admin/AccessLevels').then((m) => ({ default: m.AccessLevelEdit })));
const Settings = lazy(() => import('./pages/admin/Settings').then((m) => ({ default: m.Settings })));
const Audit = lazy(() => import('./pages/admin/Audit').then((m) => ({ default: m.Audit })));
const ManageApplications = lazy(() => import('./pages/ManageApplications').then((m) => ({ default: m.ManageApplications })));
const OidcProviders = lazy(() => import('./pages/admin/OidcProviders').then((m) => ({ default: m.OidcProviders })));
const OidcProviderEdit = lazy(() => import('./pages/admin/OidcProviders').then((m) => ({ default: m.OidcProviderEdit })));
const LdapDirectory = lazy(() => import('./pages/admin/LdapDirectory').then((m) => ({ default: m.LdapDirectory })));
const CredentialProvider = lazy(() => import('./pages/admin/CredentialProvider').then((m) => ({ default: m.CredentialProvider })));

interface Route {
  path: string;
  need?: Permission[];
  bare?: boolean;
  render(p: Record<string, string>): ReactNode;
}

const ROUTES: Route[] = [
  { path: '/', render: () => <MyAccess /> },
  { path: '/account', render: () => <Account /> },
  { path: '/access', render: () => <AccessRequests /> },
  { path: '/personal', render: () => <Personal /> },
  { path: '/applications', render: () => <ManageApplications /> },
  { path: '/terminal/:secretId/:launcher', bare: true, render: (p) => <Terminal secretId={p.secretId!} launcher={p.launcher!} /> },
  { path: '/sessions/live', need: ['manage_sessions'], render: () => <LiveSessions /> },
  { path: '/sessions/live/:id', need: ['manage_sessions'], bare: true, render: (p) => <Watch id={p.id!} /> },
  { path: '/sessions/join/:id/:joinId', bare: true, render: (p) => <JoinSession id={p.id!} joinId={p.joinId!} /> },
  { path: '/recordings', need: ['view_recordings'], render: () => <Recordings /> },
  { path: '/recordings/:id', need: ['view_recordings'], render: (p) => <RecordingDetail id={p.id!} /> },
  { path: '/admin/users', need: ['administer'], render: () => <Users /> },
  { path: '/admin/users/:id', need: ['administer'], render: (p) => <UserEdit id={p.id!} /> },
  { path: '/admin/groups', need: ['administer'], render: () => <Groups /> },
  { path: '/admin/groups/:id', need: ['administer'], render: (p) => <GroupEdit id={p.id!} /> },
  { path: '/admin/roles', need: ['administer'], render: () => <Roles /> },
  { path: '/admin/roles/:id', need: ['administer'], render: (p) => <RoleEdit id={p.id!} /> },
  { path: '/admin/secrets', need: ['manage_secrets', 'all_secrets'], render: () => <SecretsAdmin /> },
  { path: '/admin/secrets/:id', render: (p) => <SecretEdit id={p.id!} /> },
  { path: '/admin/folders/:id', render: (p) => <FolderEdit id={p.id!} /> },
  { path: '/admin/templates', need: ['manage_templates'], render: () => <Templates /> },
  { path: '/admin/templates/:id', need: ['manage_templates'], render: (p) => <TemplateEdit id={p.id!} /> },
  { path: '/admin/launchers', need: ['manage_templates'], render: () => <Launchers /> },
  { path: '/admin/launchers/:id', need: ['manage_templates'], render: (p) => <LauncherEdit id={p.id!} /> },
  { path: '/admin/access-policies', need: ['administer'], render: () => <AccessPolicies /> },
  { path: '/admin/access-policies/:id', need: ['administer'], render: (p) => <AccessPolicyEdit id={p.id!} /> },
  { path: '/admin/access-levels', need: ['administer'], render: () => <AccessLevels /> },
  { path: '/admin/access-levels/:id', need: ['administer'], render: (p) => <AccessLevelEdit id={p.id!} /> },
  { path: '/admin/settings', need: ['administer'], render: () => <Settings /> },
  { path: '/admin/audit', need: ['audit'], render: () => <Audit /> },
  { path: '/admin/credential-provider', need: ['administer'], render: () => <CredentialProvider /> },
  { path: '/admin/ldap', need: ['administer'], render: () => <LdapDirectory /> },
  { path: '/admin/oidc-providers', need: ['administer'], render: () => <OidcProviders /> },
  { path: '/admin/oidc-providers/:id', need: ['administer'], render: (p) => <OidcProviderEdit id={p.id!} /> },
];

/** A page that fails to load or render: usually a new version of Gatehouse replaced the old files. */
class PageBoundary extends Component<{ children: ReactNode; path: string }, { error: Error | null; path: string }> {
  override state = { error: null as Error | null, path: this.props.path };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  static getDerivedStateFromProps(props: { path: string }, state: { error: Error | null; path: string }) {
    return props.path !== state.path ? { error: null, path: props.path } : null;
  }
  override componentDidCatch(error: Error, info: ErrorInfo) {
    console.error('page failed', error, info.componentStack);
  }
  override render() {
    if (!this.state.error) return this.props.children;
    const chunk = /dynamically imported module|Importing a module script failed|Failed to fetch/i.test(this.state.error.message);
    return (
      <Empty icon="alert" title={chunk ? 'Gatehouse was updated' : 'This page could not be shown'} action={<button type="button" className="btn btn-primary" onClick={() => location.reload()}>Reload the page</button>}>
        {chunk ? 'A newer version is on the server. Reload to continue.' : 'Something went wrong while showing this page. Reloading usually helps.'}
      </Empty>
    );
  }
}

function Routed() {
  const me = useMe();
  const { path } = useLocation();
  let found: { route: Route; params: Record<string, string> } | null = null;
  for (const route of ROUTES) {
    const params = match(route.path, path);
    if (params) {
      found = { route, params };
      break;
    }
  }
  let page: ReactNode;
  if (!found) {
    page = (
      <Empty icon="info" title="Page not found" action={<Link to="/">Go to My access</Link>}>
        There is nothing at {path}.
      </Empty>
    );
  } else if (found.route.need && !found.route.need.some((p) => me.can(p))) {
    page = (
      <Empty icon="lock" title="You don't have access to this page" action={<Link to="/">Go to My access</Link>}>
        It needs the {found.route.need.join(' or ').replace(/_/g, ' ')} permission. Ask an administrator if you need it.
      </Empty>
    );
  } else {
    page = (
      <PageBoundary path={path}>
        <Suspense fallback={<Loading />}>{found.route.render(found.params)}</Suspense>
      </PageBoundary>
    );
  }
  if (found?.route.bare && page) return <div className="bare">{page}</div>;
  return <Layout>{page}</Layout>;
}

function Gate() {
  const { state } = useAuth();
  if (state.status === 'loading')
    return (
      <div className="boot">
        <Loading label="Opening Gatehouse…" />
      </div>
    );
  if (state.status === 'signedOut') return <SignIn notice={state.notice} />;
  return <Routed key={state.me.id} />;
}

/** Taken before anything renders: the page's ticket leaves the address bar at once. */
const rdpParams = location.pathname === '/rdp/session' ? takeRdpPageParams() : null;

export function App() {
  // The browser RDP page needs no sign-in: its launch ticket is the authentication (like the RDP door's).
  if (location.pathname === '/rdp/session')
    return (
      <FeedbackProvider>
        <Suspense fallback={<Loading label="Opening Remote Desktop…" />}>
          <RdpSession params={rdpParams!} />
        </Suspense>
      </FeedbackProvider>
    );
  return (
    <AuthProvider>
      <FeedbackProvider>
        <Gate />
      </FeedbackProvider>
    </AuthProvider>
  );
}
