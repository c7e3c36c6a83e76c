// MFA step-up from the command line: `gatehouse step-up [code]` verifies a TOTP code for the
// saved session's token, and launch commands take `--totp <code>` or, when the secret's
// access policy asks for a fresh second factor and stdin is a terminal, prompt for it once.
import type { Command } from 'commander';
import { api } from '../web/contract/index.js';
import { ApiError, callApi, type CliState } from './client.js';
import { askHidden } from './prompt.js';

/**
 * Runs a launch; when it answers mfa_required without a code given, asks for the code
 * (on a terminal) and tries once more with it.
 */
export async function withStepUp<T>(launch: (totp?: string) => Promise<T>, totp?: string): Promise<T> {
  try {
    return await launch(totp);
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== 'mfa_required' || totp !== undefined || !process.stdin.isTTY) throw e;
    process.stderr.write(`${e.message}\n`);
    return launch(await askHidden('Verification code: '));
  }
}

export function registerStepUp(program: Command, session: () => CliState): void {
  program
    .command('step-up [code]')
    .description("verify a TOTP code for launches whose access policy asks for a fresh second factor (prompts when no code is given)")
    .action(async (code: string | undefined) => {
      const r = await callApi(session(), api.auth.stepUp, { body: { code: code ?? (await askHidden('Verification code: ')) } });
      process.stdout.write(`second factor verified at ${r.verifiedAt}\n`);
    });
}
