// Recovery codes shown once, right after a first second factor is set up (TOTP or a security
// key): the list, copy, download, and "I saved them".
import { Alert, Button, CopyButton } from './ui';

export function RecoveryCodesList({ codes, username, title, onDone }: { codes: string[]; username: string; title: string; onDone(): void }) {
  return (
    <div className="stack">
      <Alert kind="success" title={title}>
        Save these recovery codes somewhere safe now: each signs you in once if you lose your second factor. They are not shown again.
      </Alert>
      <ol className="recovery-codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <div className="form-actions">
        <CopyButton text={codes.join('\n') + '\n'} label="Copy all codes" small={false} />
        <Button
          icon="download"
          variant="ghost"
          onClick={() => {
            const url = URL.createObjectURL(new Blob([`Gatehouse recovery codes for ${username}\n\n${codes.join('\n')}\n`], { type: 'text/plain' }));
            const a = document.createElement('a');
            a.href = url;
            a.download = `gatehouse-recovery-codes-${username}.txt`;
            a.click();
            setTimeout(() => URL.revokeObjectURL(url), 1000);
          }}
        >
          Download
        </Button>
        <Button variant="primary" onClick={onDone}>
          I saved them
        </Button>
      </div>
    </div>
  );
}
