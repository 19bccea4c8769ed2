/**
 * Text typed into an agent's terminal UI (a follow-up, Ask Agent). It goes in as a bracketed paste — the TUI then
 * takes every character as text, line breaks included, instead of as keys — and the Enter that submits it follows as
 * a separate write. Control characters are removed first: a lone `\r` would submit half the text, ESC could start a
 * key sequence or end the paste early (`ESC[201~`), others (BEL, ^C, ^D, ^Z) act as keys.
 */

export const PASTE_START = '\x1b[200~';
export const PASTE_END = '\x1b[201~';

/**
 * Line breaks (`\r\n`, lone `\r`) become `\n`; other C0 controls except `\t`, DEL and C1 controls (`\x9b` is an
 * 8-bit CSI) are removed. Pure.
 */
export function sanitizeTypedText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\r\n?/g, '\n').replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '');
}

/** What to write for `text`: the paste, then (separately, once the TUI took the paste in) the Enter. Pure. */
export function typedInput(text: string): { paste: string; enter: string } | undefined {
  const clean = sanitizeTypedText(text);
  if (!clean.trim()) return undefined;
  return { paste: `${PASTE_START}${clean}${PASTE_END}`, enter: '\r' };
}
