// Chooses several items from a long list: chips for the chosen ones, a filter box with suggestions.
import { useId, useMemo, useRef, useState } from 'react';
import { Icon } from './Icon';
import './Picker.css';

export interface Option {
  id: string;
  label: string;
  sub?: string;
}

export function Picker({ options, value, onChange, placeholder = 'Add…', label }: { options: Option[]; value: string[]; onChange(v: string[]): void; placeholder?: string; label: string }) {
  const [text, setText] = useState('');
  const [open, setOpen] = useState(false);
  const [cursor, setCursor] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const listId = useId();
  const byId = useMemo(() => new Map(options.map((o) => [o.id, o])), [options]);
  const suggestions = useMemo(() => {
    const w = text.trim().toLowerCase();
    return options.filter((o) => !value.includes(o.id) && (!w || o.label.toLowerCase().includes(w) || o.sub?.toLowerCase().includes(w))).slice(0, 8);
  }, [options, value, text]);
  const add = (id: string) => {
    onChange([...value, id]);
    setText('');
    setCursor(0);
    input.current?.focus();
  };
  return (
    <div className="picker">
      {value.length > 0 && (
        <ul className="chips" aria-label={label}>
          {value.map((id) => (
            <li key={id} className="chip">
              <span>{byId.get(id)?.label ?? id}</span>
              <button type="button" onClick={() => onChange(value.filter((x) => x !== id))} aria-label={`Remove ${byId.get(id)?.label ?? id}`}>
                <Icon name="x" size={12} />
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="picker-input">
        <input
          ref={input}
          className="input"
          value={text}
          placeholder={placeholder}
          aria-label={label}
          role="combobox"
          aria-expanded={open && suggestions.length > 0}
          aria-controls={listId}
          onChange={(e) => {
            setText(e.target.value);
            setOpen(true);
            setCursor(0);
          }}
          onFocus={() => setOpen(true)}
          onBlur={() => setTimeout(() => setOpen(false), 150)}
          onKeyDown={(e) => {
            if (e.key === 'ArrowDown') {
              e.preventDefault();
              setCursor((c) => Math.min(c + 1, suggestions.length - 1));
            } else if (e.key === 'ArrowUp') {
              e.preventDefault();
              setCursor((c) => Math.max(c - 1, 0));
            } else if (e.key === 'Enter') {
              const s = suggestions[cursor];
              if (s) {
                e.preventDefault();
                add(s.id);
              }
            } else if (e.key === 'Backspace' && !text && value.length) onChange(value.slice(0, -1));
          }}
        />
        {open && suggestions.length > 0 && (
          <ul className="picker-list" id={listId} role="listbox">
            {suggestions.map((o, i) => (
              <li key={o.id} role="option" aria-selected={i === cursor} className={i === cursor ? 'active' : ''} onMouseDown={(e) => e.preventDefault()} onClick={() => add(o.id)}>
                <span>{o.label}</span>
                {o.sub && <span className="muted small">{o.sub}</span>}
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}
