/** `YYYY-MM-DD` of a time in the local time zone (the person's day, for the daily budget). Pure. */
export function localDay(t: number): string {
  const d = new Date(t);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}
