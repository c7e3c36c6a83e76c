// The /start parameter checks (src/core/openpsm/params.ts): every one of the seed's messages,
// in the seed's order, and the ApiUrl allow list.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { checkStart, INVALID, INVALID_WORKFLOW, MISSING, normaliseApiUrl } from '../../src/core/openpsm/params.js';

const API = 'https://iam.example.com';
const valid = (): Record<string, string> => ({
  TargetPersonGuid: randomUUID(),
  AccessRequestPolicyID: randomUUID(),
  TargetComputerGuid: randomUUID(),
  IsAdvanceMode: 'false',
  ComputerID: '2331',
  IsPersonalCred: 'false',
  ExternalCredentialCheckOutID: '',
  LoginSessionID: randomUUID(),
  ApiUrl: `${API}/`,
  Mode: 'SSH',
  ApiKey: 'token-abc',
  CredentialID: randomUUID(),
  ApiApplicationKey: randomUUID(),
  GUAC_WIDTH: '1024',
  GUAC_HEIGHT: '768',
  GUAC_DPI: '96',
});
const check = (patch: Record<string, string | undefined>) => {
  const q: Record<string, unknown> = { ...valid(), ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete q[k];
  return checkStart(q, [API]);
};
const message = (patch: Record<string, string | undefined>) => {
  const r = check(patch);
  return r.ok ? 'ok' : r.message;
};

describe('OpenPSM /start parameters', () => {
  it('accepts a valid request (ApiUrl normalised, Mode in any case, optional parameters)', () => {
    const r = check({ Mode: 'telnet', CheckOutStartDate: '2030-01-01T00:00:00Z', CheckOutEndDate: '2030-01-01T01:00:00Z', PSM_Connection_Delay: '5', ExternalCredentialGuid: randomUUID() });
    assert.ok(r.ok);
    assert.equal(r.start.mode, 'Telnet');
    assert.equal(r.start.apiUrl, API);
    assert.equal(r.start.connectionDelaySeconds, 5);
  });
  it('"Missing request parameters." when a payload value is absent, null or undefined', () => {
    for (const k of ['ComputerID', 'IsPersonalCred', 'ExternalCredentialCheckOutID', 'LoginSessionID', 'ApiUrl', 'Mode', 'ApiKey', 'CredentialID', 'ApiApplicationKey', 'GUAC_WIDTH', 'GUAC_HEIGHT', 'GUAC_DPI']) {
      assert.equal(message({ [k]: undefined }), MISSING, k);
      assert.equal(message({ [k]: 'null' }), MISSING, k);
      assert.equal(message({ [k]: 'undefined' }), MISSING, k);
    }
  });
  it('"Invalid request parameters." when ApiApplicationKey, LoginSessionID or CredentialID is no GUID', () => {
    for (const k of ['ApiApplicationKey', 'LoginSessionID', 'CredentialID']) assert.equal(message({ [k]: '2331' }), INVALID, k);
  });
  it('"Invalid Request parameters." when the workflow validation fails', () => {
    const cases: Record<string, string | undefined>[] = [
      { TargetPersonGuid: undefined },
      { AccessRequestPolicyID: 'x' },
      { TargetComputerGuid: '' },
      { IsAdvanceMode: 'maybe' },
      { IsAdvanceMode: undefined },
      { IsPersonalCred: 'yes' },
      { CheckOutStartDate: 'soon' },
      { CheckOutStartDate: '2030-01-01T02:00:00Z', CheckOutEndDate: '2030-01-01T01:00:00Z' },
      { ExternalCredentialGuid: 'abc' },
      { PSM_Connection_Delay: '-1' },
      { Mode: 'VNC' },
      { GUAC_WIDTH: 'wide' },
      { ApiKey: '' },
      { ApiUrl: 'http://iam.example.com' },
      { ApiUrl: 'https://evil.example.com' },
      { ApiUrl: 'https://user:pw@iam.example.com' },
    ];
    for (const c of cases) assert.equal(message(c), INVALID_WORKFLOW, JSON.stringify(c));
  });
  it('normalises ApiUrl values and refuses what is no https URL', () => {
    assert.equal(normaliseApiUrl('https://IAM.example.com:443/api/'), 'https://iam.example.com/api');
    assert.equal(normaliseApiUrl('ftp://x'), null);
    assert.equal(normaliseApiUrl('https://x/?a=1'), null);
  });
});
