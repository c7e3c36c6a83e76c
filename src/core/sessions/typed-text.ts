// Turns a person's keystrokes into the lines they typed, for the searchable text index:
// printable characters accumulate, backspace/DEL and ^U edit, Enter ends a line, and
// escape sequences (arrows, function keys) are skipped.
export class TypedLines {
  private line = '';
  private esc: 'none' | 'esc' | 'csi' | 'ss3' | 'osc' = 'none';

  /** Feeds decoded input text; returns the lines completed by it. */
  feed(text: string): string[] {
    const done: string[] = [];
    for (const ch of text) {
      const c = ch.codePointAt(0)!;
      if (this.esc === 'esc') {
        this.esc = ch === '[' ? 'csi' : ch === 'O' ? 'ss3' : ch === ']' ? 'osc' : 'none';
        continue;
      }
      if (this.esc === 'csi') {
        if (c >= 0x40 && c <= 0x7e) this.esc = 'none';
        continue;
      }
      if (this.esc === 'ss3') {
        this.esc = 'none';
        continue;
      }
      if (this.esc === 'osc') {
        if (c === 7 || c === 0x1b) this.esc = 'none';
        continue;
      }
      if (c === 0x1b) this.esc = 'esc';
      else if (c === 0x0d || c === 0x0a) {
        if (this.line.trim()) done.push(this.line);
        this.line = '';
      } else if (c === 0x7f || c === 0x08) this.line = [...this.line].slice(0, -1).join('');
      else if (c === 0x15) this.line = '';
      else if (c === 0x03) this.line = '';
      else if (c === 0x09) this.line += '\t';
      else if (c >= 0x20) this.line += ch;
      if (this.line.length > 4096) {
        done.push(this.line);
        this.line = '';
      }
    }
    return done;
  }

  rest(): string[] {
    const r = this.line.trim() ? [this.line] : [];
    this.line = '';
    return r;
  }
}
