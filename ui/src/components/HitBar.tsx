// The search-hit bar above a recording player (terminal or RDP): how many lines matched the
// search the person came from, and buttons to jump between them.
import { Icon } from './Icon';
import { Button } from './ui';
import './HitBar.css';

export function HitBar({ q, count, index, onJump }: { q: string; count: number; index: number; onJump: (i: number) => void }) {
  if (!q || count === 0) return null;
  return (
    <div className="hit-bar">
      <Icon name="search" />
      <span>
        “<strong>{q}</strong>”: {count} {count === 1 ? 'line' : 'lines'} in this session
      </span>
      <span className="hit-bar-buttons">
        {count > 1 && (
          <Button small onClick={() => onJump(index - 1)} aria-label="Previous hit">
            ◀
          </Button>
        )}
        <Button small variant="primary" onClick={() => onJump(index)}>
          Jump to search hit{count > 1 ? ` ${index + 1} of ${count}` : ''}
        </Button>
        {count > 1 && (
          <Button small onClick={() => onJump(index + 1)} aria-label="Next hit">
            ▶
          </Button>
        )}
      </span>
    </div>
  );
}
