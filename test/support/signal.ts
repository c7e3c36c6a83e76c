// A one-shot signal for tests that order concurrent work by hand (a race made certain):
// `resolve()` once the event has happened, `await done` where it must have.
export function signal(): { resolve: () => void; done: Promise<void> } {
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  return { resolve, done };
}
