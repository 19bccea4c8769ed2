import assert from 'node:assert/strict';
import { renderTranscript } from '../../../src/core/agents/transcript';

const lines = [
  { type: 'grove_prompt', text: 'Add a farewell function' },
  { type: 'system', subtype: 'init', session_id: 'abc-123', cwd: '/w/t', model: 'claude-x', permissionMode: 'acceptEdits' },
  { type: 'assistant', message: { content: [{ type: 'text', text: 'I will edit the app.' }] } },
  { type: 'assistant', message: { content: [{ type: 'tool_use', name: 'Edit', input: { file_path: '/w/t/src/app.js' } }] } },
  { type: 'user', message: { content: [{ type: 'tool_result', content: 'The file /w/t/src/app.js has been updated.' }] } },
  { type: 'assistant', message: { content: [{ type: 'tool_use', name: 'Bash', input: { command: 'npm test' } }] } },
  { type: 'user', message: { content: [{ type: 'tool_result', is_error: true, content: Array.from({ length: 10 }, (_, i) => `line ${i}`).join('\n') }] } },
  { type: 'result', subtype: 'success', is_error: false, num_turns: 3, total_cost_usd: 0.01234, duration_ms: 2500, result: 'Added farewell().',
    permission_denials: [{ tool_name: 'Write', tool_input: { file_path: '/w/t/secret.txt' } }] },
].map((l) => JSON.stringify(l));

describe('transcript', () => {
  it('renders prompt, session, assistant text, tool calls with relative paths, results and cost', () => {
    const text = renderTranscript([...lines, 'not json noise', JSON.stringify({ type: 'grove_permission', tool: 'Bash', decision: 'deny' }), JSON.stringify({ type: 'grove_exit', code: null, signal: 'SIGTERM', stopped: true })].join('\n'));
    assert.match(text, /▶ You:\n {4}Add a farewell function/);
    assert.match(text, /● Session abc-123 · model claude-x · permission mode acceptEdits/);
    assert.match(text, /Claude: I will edit the app\./);
    assert.match(text, /⚙ Edit src\/app\.js/);
    assert.match(text, /⚙ Bash: npm test/);
    assert.match(text, /✔ Done · 3 turns · \$0\.0123 · 2\.5 s\n {4}Added farewell\(\)\./);
    assert.match(text, /⊘ Denied: Write secret\.txt/);
    assert.match(text, /│ not json noise/);
    assert.match(text, /\? Permission for Bash: denied/);
    assert.match(text, /■ Stopped by you/);
  });

  it('clips long tool results and marks failed ones', () => {
    const text = renderTranscript(lines.join('\n'));
    assert.match(text, /✖ line 0/);
    assert.match(text, /… \(4 more lines\)/);
    assert.doesNotMatch(text, /line 9/);
  });

  it('shows an API failure as failed with the CLI message', () => {
    const text = renderTranscript(JSON.stringify({ type: 'result', subtype: 'success', is_error: true, result: 'API Error: 401 invalid x-api-key' }));
    assert.match(text, /✖ Failed \(success\)\n {4}API Error: 401 invalid x-api-key/);
  });

});
