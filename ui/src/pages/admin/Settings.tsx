// Runtime settings (no restart needed).
import { useEffect, useState } from 'react';
import { api, ApiError, errorText } from '../../api';
import { EditForm } from '../../components/EditForm';
import { Alert, Button, Card, ErrorAlert, Field, Loading, PageHeader, Switch, useToast } from '../../components/ui';
import { useSubmit } from '../../editing';
import { useApi, useTitle } from '../../hooks';
import type { SettingsResponse } from '../../api-types';
import './Settings.css';

const LABELS: Record<string, { label: string; unit?: string }> = {
  publicUrl: { label: 'Public URL' },
  sessionTimeout: { label: 'Launch ticket lifetime', unit: 'seconds' },
  allowConnectionSharing: { label: 'Allow RDP connection sharing' },
  lockoutThreshold: { label: 'Lock accounts after failed sign-ins', unit: 'attempts' },
  lockoutMinutes: { label: 'Lockout duration', unit: 'minutes' },
  loginRateLimit: { label: 'Failed sign-ins allowed per address', unit: 'per window' },
  loginRateWindowSeconds: { label: 'Sign-in limit window', unit: 'seconds' },
  loginAuditThreshold: { label: 'Failed sign-ins audited one by one', unit: 'per window' },
  loginTokenMinutes: { label: 'Sign-in session lifetime', unit: 'minutes' },
  auditCheckpointSeconds: { label: 'Audit checkpoint interval', unit: 'seconds' },
  auditStreamDrainSeconds: { label: 'Audit streaming: time given to sinks at shutdown', unit: 'seconds' },
  smtpHost: { label: 'SMTP relay for access request e-mails' },
  smtpPort: { label: 'SMTP port' },
  smtpSecure: { label: 'SMTP over TLS from the start (port 465)' },
  smtpFrom: { label: 'E-mail From address' },
  personalUnlockIdleSeconds: { label: 'Personal vault stays unlocked while idle', unit: 'seconds' },
  sessionConnector: { label: 'Session Connector' },
  webservicesEnabled: { label: 'Enable Webservices' },
  webservicesMachineField: { label: 'Machine Field' },
  webservicesDomainField: { label: 'Domain Field' },
  webservicesIncludeDomainCredentialsFor: { label: 'Include domain credentials for' },
  webservicesDefaultDomain: { label: 'Default Domain for Local Users' },
  webservicesFallbackToLocal: { label: 'Enable fall-back to local account if domain account not found' },
  webservicesIncludeDefaultOrganization: { label: 'Include default organization' },
  webservicesTokenMinutes: { label: 'Token cache lifetime', unit: 'minutes' },
  ldapSyncMinutes: { label: 'LDAP directory sync interval (0: on demand only)', unit: 'minutes' },
  ldapTerminateSessionsOnDisable: { label: 'Terminate the live sessions of directory users found disabled' },
  oidcJitProvisioning: { label: 'OIDC: create accounts on first sign-in' },
  oidcClockToleranceSeconds: { label: 'OIDC: ID token clock tolerance', unit: 'seconds' },
  webauthnRpId: { label: 'WebAuthn: relying party id (empty: the host of the public URL)' },
  webauthnPasswordless: { label: 'WebAuthn: sign in with a passkey alone (passwordless)' },
};
const ORDER = ['publicUrl', 'sessionTimeout', 'loginTokenMinutes', 'lockoutThreshold', 'lockoutMinutes', 'loginRateLimit', 'loginRateWindowSeconds', 'loginAuditThreshold', 'allowConnectionSharing', 'auditCheckpointSeconds', 'smtpHost', 'smtpPort', 'smtpSecure', 'smtpFrom'];

export function Settings() {
  useTitle('Settings');
  const toast = useToast();
  const settings = useApi<SettingsResponse>('/settings');
  const [values, setValues] = useState<Record<string, string | boolean>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const { busy, error, setError, run } = useSubmit();
  // The form holds every value as typed (text), switches as booleans.
  const reset = () => settings.data && setValues(Object.fromEntries(Object.entries(settings.data.values).map(([k, v]) => [k, typeof v === 'boolean' ? v : Array.isArray(v) ? v.join(', ') : String(v)])));

  useEffect(() => {
    reset();
  }, [settings.data]);

  const d = settings.data;
  const keys = d ? [...ORDER.filter((k) => k in d.definitions), ...Object.keys(d.definitions).filter((k) => !ORDER.includes(k))] : [];
  const changed = d ? keys.filter((k) => String(values[k]) !== String(d.values[k])) : [];

  const save = () => {
    if (!d) return;
    setError(null);
    setErrors({});
    const body: Record<string, unknown> = {};
    for (const k of changed) {
      const def = d.definitions[k]!.default;
      const v = values[k]!;
      if (typeof def === 'boolean') body[k] = v;
      // A list setting (openpsmAllowedApiUrls) is edited as comma- or space-separated text.
      else if (Array.isArray(def)) body[k] = String(v).split(/[\s,]+/).filter(Boolean);
      else if (typeof def === 'number') {
        const n = Number(v);
        if (String(v).trim() === '' || !Number.isInteger(n)) return setErrors({ [k]: 'Enter a whole number.' });
        body[k] = n;
      } else body[k] = String(v).trim();
    }
    void run(async () => {
      try {
        const r = await api.patch<{ values: SettingsResponse['values'] }>('/settings', body);
        settings.setData((x) => (x ? { ...x, values: r.values } : x));
        toast('Settings saved');
      } catch (err) {
        // Point at the setting the message names, when it names one.
        const m = err instanceof ApiError ? keys.find((k) => err.message.includes(k)) : undefined;
        if (!m) throw err;
        setErrors({ [m]: errorText(err) });
      }
    });
  };

  return (
    <div className="page page-narrow">
      <PageHeader title="Settings" subtitle="Take effect at once, for every gateway node." />
      <ErrorAlert error={settings.error} />
      {!d ? (
        !settings.error && <Loading />
      ) : (
        <EditForm
          onSave={save}
          error={null}
          busy={busy}
          canSave={changed.length > 0}
          saveLabel="Save settings"
          extra={changed.length > 0 && <Button onClick={reset}>Discard changes</Button>}
        >
          <Card>
            <div className="settings-list">
              {keys.map((k) => {
                const def = d.definitions[k]!;
                const meta = LABELS[k] ?? { label: k };
                const id = `setting-${k}`;
                return (
                  <div className="setting" key={k}>
                    {typeof def.default === 'boolean' ? (
                      <Field label={meta.label} hint={def.description} error={errors[k]}>
                        <Switch label={values[k] ? 'On' : 'Off'} checked={values[k] === true} onChange={(v) => setValues({ ...values, [k]: v })} />
                      </Field>
                    ) : (
                      <Field label={meta.label} htmlFor={id} hint={def.description} error={errors[k]}>
                        <div className="input-unit">
                          <input
                            id={id}
                            className="input"
                            type={typeof def.default === 'number' ? 'number' : k === 'publicUrl' ? 'url' : 'text'}
                            value={String(values[k] ?? '')}
                            onChange={(e) => setValues({ ...values, [k]: e.target.value })}
                            placeholder={k === 'publicUrl' ? 'https://gatehouse.example.com' : String(def.default)}
                            spellCheck={false}
                          />
                          {meta.unit && <span className="unit">{meta.unit}</span>}
                        </div>
                      </Field>
                    )}
                  </div>
                );
              })}
            </div>
          </Card>
          {error ? <Alert kind="error">{errorText(error)}</Alert> : null}
        </EditForm>
      )}
    </div>
  );
}
