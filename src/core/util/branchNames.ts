/**
 * Pure checks of branch names and of the branch prefix setting (no git process: the rules of
 * `git check-ref-format --branch`, see git-check-ref-format(1)).
 */

/** First components that make a branch `<prefix>/<slug>` ambiguous with another kind of ref when written short. */
const AMBIGUOUS_FIRST = new Set(['refs', 'heads', 'tags', 'remotes', 'notes', 'worktrees', 'main-worktree']);

/**
 * The problem with a branch prefix setting, or undefined when it is usable. The prefix may be empty (branches are
 * then the bare slug) and may have several components (`team/agents`); leading and trailing `/` are ignored.
 */
export function validateBranchPrefix(prefix: string): string | undefined {
  const p = prefix.trim().replace(/^\/+|\/+$/g, '');
  if (!p) return undefined;
  const first = p.split('/')[0]!;
  if (AMBIGUOUS_FIRST.has(first.toLowerCase())) {
    return `The branch prefix '${prefix}' would make branches such as '${p}/fix' that git confuses with refs/${first === 'refs' ? '…' : `${first}/…`}; choose another prefix (e.g. 'grove').`;
  }
  if (/^[A-Z_]*HEAD$/.test(first) || first.toLowerCase() === 'head' || first === '@') {
    return `The branch prefix '${prefix}' would make branches such as '${p}/fix' that git confuses with ${first}; choose another prefix (e.g. 'grove').`;
  }
  const problem = refNameProblem(`${p}/x`);
  if (problem) return `The branch prefix '${prefix}' is not usable in a branch name: ${problem}.`;
  return undefined;
}

/** Whether `name` is a valid branch name (`git check-ref-format --branch`). */
export function isValidBranchName(name: string): boolean {
  return refNameProblem(name) === undefined;
}

function refNameProblem(name: string): string | undefined {
  if (!name) return 'it is empty';
  if (name.startsWith('-')) return "it starts with '-'";
  if (name === 'HEAD' || name === '@') return `'${name}' is reserved`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return 'it contains a space, a control character or one of ~ ^ : ? * [ \\';
  if (name.includes('..')) return "it contains '..'";
  if (name.includes('@{')) return "it contains '@{'";
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return "it has an empty component ('//')";
  if (name.endsWith('.')) return "it ends with '.'";
  for (const c of name.split('/')) {
    if (c.startsWith('.')) return `the component '${c}' starts with '.'`;
    if (c.endsWith('.lock')) return `the component '${c}' ends with '.lock'`;
  }
  return undefined;
}
