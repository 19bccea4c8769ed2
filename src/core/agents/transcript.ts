/**
 * Renders an instance's raw log (stream-json lines from the CLI, plus the runner's `grove_*` marker lines for
 * prompts, permissions, stderr and exits) as a readable transcript for the "Show Log" document. Pure.
 */
import { describeToolUse } from './claudeStream';

interface ContentBlock {
  type: string;
  text?: string;
  name?: string;
  input?: Record<string, unknown>;
  content?: unknown;
  is_error?: boolean;
}

const MAX_RESULT_LINES = 6;

export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function indent(text: string, prefix = '    '): string {
  return text.split('\n').map((l) => prefix + l).join('\n');
}

function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((c) => (c && typeof c === 'object' && 'text' in c ? String((c as { text: unknown }).text) : '')).join('\n');
  }
  return '';
}

function clip(text: string): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  if (lines.length <= MAX_RESULT_LINES) return lines.join('\n');
  return [...lines.slice(0, MAX_RESULT_LINES), `… (${lines.length - MAX_RESULT_LINES} more lines)`].join('\n');
}

export function renderTranscript(raw: string): string {
  const out: string[] = [];
  let cwd: string | undefined;
  for (const line of raw.split('\n')) {
    if (!line.trim()) continue;
    let ev: any;
    try {
      ev = JSON.parse(line);
    } catch {
      out.push(indent(oneLine(line, 200), '  │ '));
      continue;
    }
    switch (ev.type) {
      case 'grove_prompt':
        out.push('', '▶ You:', indent(String(ev.text ?? '')), '');
        break;
      case 'grove_permission':
        out.push(`  ? Permission for ${ev.tool ?? 'a tool'}: ${ev.decision === 'deny' ? 'denied' : ev.decision === 'allowAlways' ? 'allowed for this agent' : 'allowed once'}`);
        break;
      case 'grove_stderr':
        if (String(ev.text ?? '').trim()) out.push(indent(String(ev.text).trimEnd(), '  stderr │ '));
        break;
      case 'grove_exit':
        if (ev.stopped) out.push('■ Stopped by you');
        else if (ev.code !== 0) out.push(`■ Process ended (${ev.signal ? `signal ${ev.signal}` : `exit code ${ev.code}`})`);
        break;
      case 'grove_setup':
        if (String(ev.text ?? '').trim()) out.push(indent(String(ev.text).trimEnd(), '  setup │ '));
        break;
      case 'grove_note':
        out.push(`· ${ev.text}`);
        break;
      case 'system':
        if (ev.subtype === 'init') {
          cwd = ev.cwd;
          out.push(`● Session ${ev.session_id} · model ${ev.model ?? '?'} · permission mode ${ev.permissionMode ?? '?'}`);
        } else if (ev.subtype === 'api_retry') {
          out.push(`· API retry ${ev.attempt ?? ''}${ev.error ? `: ${ev.error}` : ''}`);
        } else if (ev.subtype === 'compact_boundary') {
          const m = ev.compact_metadata ?? {};
          out.push(`· Compacted the conversation (${m.trigger ?? 'auto'}${typeof m.pre_tokens === 'number' ? `, ${m.pre_tokens} → ${m.post_tokens ?? '?'} tokens` : ''})`);
        }
        break;
      case 'rate_limit_event':
        if (ev.rate_limit_info?.status === 'rejected') {
          const at = typeof ev.rate_limit_info.resetsAt === 'number' ? ` until ${new Date(ev.rate_limit_info.resetsAt * 1000).toLocaleTimeString()}` : '';
          out.push(`· Rate limited${at}`);
        }
        break;
      case 'assistant': {
        const blocks: ContentBlock[] = ev.message?.content ?? [];
        for (const b of blocks) {
          if (b.type === 'text' && b.text?.trim()) out.push(`Claude: ${b.text.trim()}`);
          else if (b.type === 'tool_use') out.push(`  ⚙ ${describeToolUse(b.name ?? '?', b.input ?? {}, cwd)}`);
        }
        if (ev.error) out.push(`  ✖ API error: ${typeof ev.error === 'string' ? ev.error : JSON.stringify(ev.error)}`);
        break;
      }
      case 'user': {
        const blocks: ContentBlock[] = Array.isArray(ev.message?.content) ? ev.message.content : [];
        for (const b of blocks) {
          if (b.type !== 'tool_result') continue;
          const text = clip(resultText(b.content));
          if (text) out.push(indent(text, b.is_error ? '    ✖ ' : '    ↳ '));
        }
        break;
      }
      case 'result': {
        const cost = typeof ev.total_cost_usd === 'number' ? ` · $${ev.total_cost_usd.toFixed(4)}` : '';
        const secs = typeof ev.duration_ms === 'number' ? ` · ${(ev.duration_ms / 1000).toFixed(1)} s` : '';
        const turns = typeof ev.num_turns === 'number' ? ` · ${ev.num_turns} turn${ev.num_turns === 1 ? '' : 's'}` : '';
        const head = ev.is_error ? `✖ Failed (${ev.subtype})` : '✔ Done';
        out.push('', `${head}${turns}${cost}${secs}`);
        if (typeof ev.result === 'string' && ev.result.trim()) out.push(indent(ev.result.trim()));
        for (const d of ev.permission_denials ?? []) out.push(`  ⊘ Denied: ${describeToolUse(d.tool_name ?? '?', d.tool_input ?? {}, cwd)}`);
        break;
      }
      default:
        break;
    }
  }
  return out.join('\n').replace(/^\n+/, '') + '\n';
}

/**
 * What a session did, condensed for the first prompt of a fresh session that carries the task on: the latest of its
 * messages and tool calls (the end matters most), at most `maxChars` characters. Pure.
 */
export function summarizeForContinuation(raw: string, maxChars = 4000): string {
  const items: string[] = [];
  let cwd: string | undefined;
  for (const line of raw.split('\n')) {
    if (!line.trim()) continue;
    let ev: any;
    try {
      ev = JSON.parse(line);
    } catch {
      continue;
    }
    if (ev.type === 'system' && ev.subtype === 'init') cwd = ev.cwd;
    else if (ev.type === 'grove_prompt' && typeof ev.text === 'string') items.push(`You were asked: ${oneLine(ev.text, 300)}`);
    else if (ev.type === 'assistant') {
      for (const b of (ev.message?.content ?? []) as ContentBlock[]) {
        if (b.type === 'text' && b.text?.trim()) items.push(`You said: ${oneLine(b.text, 400)}`);
        else if (b.type === 'tool_use') items.push(`You ran: ${describeToolUse(b.name ?? '?', b.input ?? {}, cwd)}`);
      }
    }
  }
  const out: string[] = [];
  let size = 0;
  for (let i = items.length - 1; i >= 0; i--) {
    const item = `- ${items[i]}`;
    if (size + item.length + 1 > maxChars) {
      out.push(`- … (${i + 1} earlier step${i ? 's' : ''} left out)`);
      break;
    }
    out.push(item);
    size += item.length + 1;
  }
  return out.reverse().join('\n');
}
