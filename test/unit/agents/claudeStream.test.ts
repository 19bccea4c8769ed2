import assert from 'node:assert/strict';
import { ClaudeStreamParser, describeToolUse, relativePath } from '../../../src/core/agents/claudeStream';
import type { AgentEvent } from '../../../src/core/model';

const init = '{"type":"system","subtype":"init","cwd":"/w","session_id":"s-1","model":"claude-x","permissionMode":"acceptEdits"}';
const toolUse = '{"type":"assistant","message":{"id":"m1","content":[{"type":"tool_use","id":"t1","name":"Edit","input":{"file_path":"/w/src/app.ts","old_string":"a","new_string":"b"}}]},"session_id":"s-1"}';
const textMsg = '{"type":"assistant","message":{"id":"m2","content":[{"type":"text","text":"All done."}]},"session_id":"s-1"}';
const okResult = '{"type":"result","subtype":"success","is_error":false,"result":"All done.","num_turns":2,"total_cost_usd":0.0123,"usage":{"input_tokens":100,"cache_read_input_tokens":50,"output_tokens":20},"session_id":"s-1"}';
const apiErrorResult = '{"type":"result","subtype":"success","is_error":true,"result":"API Error: 500 boom","num_turns":1,"total_cost_usd":0,"session_id":"s-1"}';
const maxTurns = '{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":1,"total_cost_usd":0.001,"session_id":"s-1"}';
const canUse = '{"type":"control_request","request_id":"r-9","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"npm test"},"permission_suggestions":[{"type":"addRules"}]}}';

function feed(chunks: Array<string | Uint8Array>, p = new ClaudeStreamParser({ cwd: '/w' })): AgentEvent[] {
  const events = chunks.flatMap((c) => p.push(c).events);
  return [...events, ...p.end().events];
}

describe('claude stream parser', () => {
  it('maps init, tool_use, text and result to events', () => {
    const events = feed([[init, toolUse, textMsg, okResult].join('\n') + '\n']);
    assert.deepEqual(events, [
      { type: 'session', sessionId: 's-1', model: 'claude-x' },
      { type: 'activity', text: 'Edit src/app.ts', toolName: 'Edit' },
      { type: 'assistantText', text: 'All done.' },
      { type: 'usage', costUsd: 0.0123, inputTokens: 150, outputTokens: 20, turns: 2 },
      { type: 'result', isError: false, subtype: 'success', text: 'All done.', costUsd: 0.0123, turns: 2 },
    ]);
  });

  it('joins lines split across chunks at every possible byte, including inside a multi-byte character', () => {
    const line = '{"type":"assistant","message":{"content":[{"type":"text","text":"héllo → wörld"}]}}\n';
    const bytes = Buffer.from(line + okResult + '\n');
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const events = feed([bytes.subarray(0, cut), bytes.subarray(cut)]);
      assert.deepEqual(events[0], { type: 'assistantText', text: 'héllo → wörld' }, `cut at ${cut}`);
      assert.equal(events[events.length - 1].type, 'result');
    }
  });

  it('ignores and counts noise lines; a last line without newline is flushed by end()', () => {
    const p = new ClaudeStreamParser();
    const events = feed(['Warning: something\n', 'not json {\n', '[1,2]\n', '\n', init, '\n{"no":"type"}\n', okResult], p);
    assert.equal(p.noiseLines, 4);
    assert.deepEqual(events.map((e) => e.type), ['session', 'usage', 'result']);
  });

  it('handles a 5 MB line in 64 KB chunks, and drops a line beyond the cap with bounded memory', () => {
    const big = 'x'.repeat(5 * 1024 * 1024);
    const line = `{"type":"assistant","message":{"content":[{"type":"text","text":"${big}"}]}}\n`;
    const p = new ClaudeStreamParser();
    const chunks: string[] = [];
    for (let i = 0; i < line.length; i += 65536) chunks.push(line.slice(i, i + 65536));
    const events = feed([...chunks, okResult + '\n'], p);
    assert.equal((events[0] as any).text.length, big.length);
    assert.equal(events[events.length - 1].type, 'result');

    const capped = new ClaudeStreamParser({ maxLineChars: 1024 * 1024 });
    const events2 = feed([...chunks, okResult + '\n'], capped);
    assert.equal(capped.droppedLines, 1);
    assert.deepEqual(events2.map((e) => e.type), ['usage', 'result'], 'the stream goes on after a dropped line');
  });

  it('an API error is a failure even with subtype success; error_max_turns fails with a readable text', () => {
    const [, err] = feed([apiErrorResult + '\n']);
    assert.deepEqual(err, { type: 'result', isError: true, subtype: 'success', text: 'API Error: 500 boom', costUsd: 0, turns: 1 });
    const [, max] = feed([maxTurns + '\n']);
    assert.equal((max as any).isError, true);
    assert.equal((max as any).subtype, 'error_max_turns');
    assert.match((max as any).text, /maximum number of turns/);
  });

  it('parses can_use_tool control requests into permission requests', () => {
    const p = new ClaudeStreamParser();
    const chunk = p.push(canUse + '\n');
    assert.deepEqual(chunk.events, [{ type: 'permissionRequest', request: { requestId: 'r-9', toolName: 'Bash', input: { command: 'npm test' }, summary: 'Bash: npm test' } }]);
    assert.equal(chunk.messages[0].type, 'control_request');
  });

  it('describes tools with relative paths', () => {
    assert.equal(describeToolUse('Write', { file_path: '/w/notes.md' }, '/w'), 'Write notes.md');
    assert.equal(describeToolUse('Edit', { file_path: '/elsewhere/x.ts' }, '/w'), 'Edit /elsewhere/x.ts');
    assert.equal(describeToolUse('Bash', { command: 'npm test\n&& echo ok' }), 'Bash: npm test ⏎ && echo ok');
    assert.equal(describeToolUse('Grep', { pattern: 'TODO' }), 'Grep TODO');
    assert.equal(describeToolUse('Mystery', {}), 'Mystery');
    assert.equal(relativePath('src/a.ts', '/w'), 'src/a.ts');
  });
});
