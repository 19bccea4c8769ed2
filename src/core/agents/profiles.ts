/**
 * Agent profiles (`grove.agents`): Claude Code is built in; any other CLI runs in terminal mode from an argument
 * template. Arguments are expanded element by element into an array — never joined into a shell command line.
 */

export interface AgentProfile {
  name: string;
  command: string;
  /** Argument template; `${prompt}` (and `${title}`, `${cwd}`) are replaced inside each element. */
  args: string[];
  mode: 'terminal' | 'background';
  builtin?: boolean;
}

export const CLAUDE_PROFILE: AgentProfile = { name: 'claude', command: 'claude', args: ['${prompt}'], mode: 'background', builtin: true };

export interface ProfileVariables {
  prompt: string;
  title?: string;
  cwd?: string;
}

/**
 * Expands a template into an argument array. Each element stays one argument whatever the prompt contains (spaces,
 * quotes, `$(…)`, newlines); unknown `${name}` placeholders are left as written.
 *
 * A value never turns an argument into an option: when an element the template does not start with `-` would start
 * with `-` after expansion (a plan body beginning `--yes`, a title `-rf`), it gets a leading space, as the Claude path
 * does with its prompt — so the other CLI reads it as text, not as a flag.
 */
export function expandArgs(template: readonly string[], vars: ProfileVariables): string[] {
  const values: Record<string, string | undefined> = { prompt: vars.prompt, title: vars.title ?? vars.prompt, cwd: vars.cwd };
  return template.map((arg) => {
    const expanded = arg.replace(/\$\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
    return arg.startsWith('-') ? expanded : notAnOption(expanded);
  });
}

/** A user-supplied text that must arrive as one positional argument: a leading `-` gets a space before it. */
export function notAnOption(value: string): string {
  return value.startsWith('-') ? ` ${value}` : value;
}

/** Validates the `grove.agents` setting; invalid entries are reported, not thrown. */
export function parseProfiles(setting: unknown): { profiles: AgentProfile[]; errors: string[] } {
  const profiles: AgentProfile[] = [CLAUDE_PROFILE];
  const errors: string[] = [];
  if (setting === undefined || setting === null) return { profiles, errors };
  if (!Array.isArray(setting)) return { profiles, errors: ['grove.agents must be an array of profiles'] };
  setting.forEach((raw, i) => {
    const p = raw as Partial<AgentProfile> | null;
    const where = `grove.agents[${i}]`;
    if (!p || typeof p !== 'object') return void errors.push(`${where} is not an object`);
    if (typeof p.name !== 'string' || !p.name.trim()) return void errors.push(`${where}.name is required`);
    if (typeof p.command !== 'string' || !p.command.trim()) return void errors.push(`${where}.command is required`);
    if (p.args !== undefined && !(Array.isArray(p.args) && p.args.every((a) => typeof a === 'string'))) {
      return void errors.push(`${where}.args must be an array of strings`);
    }
    if (p.name === CLAUDE_PROFILE.name) return void errors.push(`${where}: "${p.name}" is the built-in profile`);
    if (profiles.some((q) => q.name === p.name)) return void errors.push(`${where}: duplicate name "${p.name}"`);
    const args = p.args ?? ['${prompt}'];
    if (!args.some((a) => a.includes('${prompt}'))) errors.push(`${where}.args has no \${prompt}: the task will not reach the agent`);
    profiles.push({ name: p.name, command: p.command, args, mode: 'terminal' });
  });
  return { profiles, errors };
}

export function findProfile(profiles: readonly AgentProfile[], name: string | undefined): AgentProfile | undefined {
  return profiles.find((p) => p.name === (name ?? CLAUDE_PROFILE.name));
}
