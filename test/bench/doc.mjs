// docs/benchmarks.md is made of sections, each between `<!-- bench:<key> -->` and `<!-- /bench:<key> -->`, so one
// benchmark can be run alone (BENCH_ONLY=<key>) and replace only its own section.
import fs from 'node:fs';

export const begin = (key) => `<!-- bench:${key} -->`;
export const end = (key) => `<!-- /bench:${key} -->`;

/** The section's lines between its markers. */
export function wrap(key, lines) {
  return [begin(key), ...lines, end(key)];
}

/**
 * Replaces the section `key` of `file` with `lines`; a section written before the markers existed is found by its
 * heading (`legacyHeading`, a prefix of the line) and replaced up to the next `## ` heading. A new section goes before
 * the first of `before` found (`[key, legacyHeading]` of the sections that follow it), or at the end.
 */
export function spliceSection(file, key, lines, { legacyHeading, before } = {}) {
  const doc = (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n').split('\n');
  const block = wrap(key, lines);
  let start = doc.indexOf(begin(key));
  let stop = start >= 0 ? doc.indexOf(end(key), start) + 1 : -1;
  if (start < 0 && legacyHeading) {
    start = doc.findIndex((l) => l.startsWith(legacyHeading));
    if (start >= 0) {
      stop = doc.findIndex((l, i) => i > start && (l.startsWith('## ') || l.startsWith('<!-- bench:')));
      if (stop < 0) stop = doc.length;
    }
  }
  if (start >= 0 && stop > start) doc.splice(start, stop - start, ...block);
  else {
    let at = -1;
    for (const [k, heading] of before ?? []) {
      at = doc.indexOf(begin(k));
      if (at < 0 && heading) at = doc.findIndex((l) => l.startsWith(heading));
      if (at >= 0) break;
    }
    if (at < 0) at = doc.length;
    doc.splice(at, 0, ...block);
  }
  fs.writeFileSync(file, doc.join('\n'));
}
