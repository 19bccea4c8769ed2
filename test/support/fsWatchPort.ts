// A WatchPort on Node's own recursive fs.watch, honouring the glob patterns as VS Code's watchers do (`**`, `*`,
// `{a,b}`): the core's file-event logic runs on real file events under plain mocha.
import fs from 'node:fs';
import path from 'node:path';
import type { WatchPort } from '../../src/core/git/worktreeTracker';

/** `**` any depth, `*` one segment, `{a,b}` alternatives. Pure. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      out += '.*';
      i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '{') out += '(?:';
    else if (c === '}') out += ')';
    else if (c === ',') out += '|';
    else out += c.replace(/[.+?^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

export const fsWatchPort: WatchPort = {
  watch(base, pattern, onEvent) {
    const re = globToRegExp(pattern);
    const w = fs.watch(base, { recursive: true }, (_type, name) => {
      if (!name) return;
      const rel = String(name).split(path.sep).join('/');
      if (re.test(rel)) onEvent(path.join(base, String(name)));
    });
    w.on('error', () => { /* the folder went away */ });
    return { dispose: () => w.close() };
  },
};
