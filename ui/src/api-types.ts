// Shapes of the Gatehouse API answers the portal uses. Not written here: each is derived
// from the server's route schemas (src/web/contract, the one statement of the API), so the
// portal cannot drift from what the server answers.
import { ACCESS_LEVELS } from '../../src/web/contract/vault.js';
import type { api } from '../../src/web/contract/index.js';
import type { Ok } from '../../src/web/contract/route.js';
import type { AccessLevel, SettingsResponse as Settings } from '../../src/web/contract/types.js';
export type { CheckoutStatus } from '../../src/web/contract/checkout.js';

export type {
  AccessLevel,
  AccessPolicy,
  AccessRequest,
  Acl,
  AclEntry,
  AuditEvent,
  FieldDef,
  FieldType,
  Folder,
  Group,
  HeartbeatResult,
  HostKey,
  Join,
  Launcher,
  LauncherOptions,
  LaunchResponse,
  Me,
  Page,
  Permission,
  PersonalCredential,
  Protocol,
  Ref,
  Role,
  RolePage,
  RotationResult,
  SearchHit,
  Secret,
  Session,
  SshKey,
  TargetAccessLevel,
  Template,
  TextLine,
  UsableAccessLevel,
  User,
  VaultStatus,
  VerifyResult,
} from '../../src/web/contract/types.js';

export const LEVELS: AccessLevel[] = [...ACCESS_LEVELS];

/** The settings page walks settings by name, so they are also indexable by any string. */
type ByName<T> = T & Record<string, T[keyof T]>;
export type SettingsResponse = { values: ByName<Settings['values']>; definitions: ByName<Settings['definitions']> };

/** Answers the portal reads whole. */
export type SignInResponse = Ok<typeof api.auth.signIn>;
export type LdapStatus = Ok<typeof api.ldapDirectory.get>;
export type LdapTest = Ok<typeof api.ldapDirectory.test>;
export type LdapSync = Ok<typeof api.ldapDirectory.sync>;
export type SignInOptions = Ok<typeof api.oidc.providers>;
export type SecurityKeyPage = Ok<typeof api.webauthn.listMine>;
export type SecurityKey = SecurityKeyPage['items'][number];
export type KeyRegistration = Ok<typeof api.webauthn.register>;
export type RegistrationChallenge = Ok<typeof api.webauthn.registerOptions>;
export type KeyChallenge = Ok<typeof api.webauthn.signInOptions>;
export type StepUpVerified = Ok<typeof api.webauthn.stepUp>;
export type OidcProvider = Ok<typeof api.oidc.getProvider>;
export type OidcProviderPage = Ok<typeof api.oidc.listProviders>;
export type TotpEnrolment = Ok<typeof api.auth.beginTotp>;
export type RecoveryCodes = Ok<typeof api.auth.confirmTotp>;
export type ClientCredentials = Ok<typeof api.directory.clientCredentials>;
export type HostKeyAnswer = Ok<typeof api.hostKeys.get>;
/** The credential-provider API (Manage Applications, Test Settings, the token cache). */
export type WebserviceApplications = Ok<typeof api.webservices.applications>;
export type WebserviceApplication = WebserviceApplications['items'][number];
export type WebserviceTest = Ok<typeof api.webservices.test>;
export type TokenCache = Ok<typeof api.webservices.tokenCache>;
/** OpenPSM, IAM side: the gateway this node sends people to, and a /start link. */
export type OpenPsmGateway = Ok<typeof api.openpsm.gateway>;
export type OpenPsmLink = Ok<typeof api.openpsm.link>;
