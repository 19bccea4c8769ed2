/**
 * Folder- and branch-safe slugs from free text (task titles). The result only ever contains `[a-z0-9-]`,
 * so it is valid for `git check-ref-format --branch`, for every file system, and can never escape a folder
 * (`..`, `/`, `\`) or mean anything to a shell.
 */

export const MAX_SLUG_LENGTH = 60;
const FALLBACK = 'task';
// Names Windows refuses as folder names, whatever the extension.
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/;

/** Lowercase ASCII slug of `text`, at most `maxLength` characters, never empty. */
export function slugify(text: string, maxLength = MAX_SLUG_LENGTH): string {
  const folded = text
    .normalize('NFKD')
    // Drop combining marks so "Crème brûlée" becomes "creme brulee".
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ß/g, 'ss')
    .replace(/[æÆ]/g, 'ae')
    .replace(/[øØ]/g, 'o')
    .toLowerCase();
  let slug = folded
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  slug = truncate(slug, maxLength);
  if (!slug) slug = FALLBACK;
  if (WINDOWS_RESERVED.test(slug)) slug = truncate(`${slug}-${FALLBACK}`, maxLength);
  return slug;
}

/** `slug` with a numeric suffix (`-2`, `-3`, …), shortened so the whole stays within `maxLength`. */
export function withSuffix(slug: string, n: number, maxLength = MAX_SLUG_LENGTH): string {
  if (n <= 1) return slug;
  const suffix = `-${n}`;
  return `${truncate(slug, maxLength - suffix.length) || FALLBACK}${suffix}`;
}

function truncate(slug: string, maxLength: number): string {
  return slug.slice(0, Math.max(0, maxLength)).replace(/-+$/g, '');
}
