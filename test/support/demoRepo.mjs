// A small git repository to open Grove on (npm start, the integration and UI tiers).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export function makeDemoRepo(parent, name = 'demo-app') {
  const dir = path.join(parent, name);
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'README.md'), '# demo-app\n\nA tiny app to try Grove on.\n');
  fs.writeFileSync(path.join(dir, 'src', 'app.js'), "export function greet(name) {\n  return `Hello, ${name}!`;\n}\n");
  fs.writeFileSync(path.join(dir, '.env'), 'DEMO_SECRET=not-tracked\n');
  fs.writeFileSync(path.join(dir, '.gitignore'), '.env\nnode_modules/\n');
  fs.writeFileSync(path.join(dir, 'plan.md'), [
    '# Demo plan', '', 'Small improvements to demo-app.', '',
    '## Add a farewell function', 'Add `farewell(name)` to src/app.js.', '',
    '## Document the API', 'Describe greet() in README.md.', '',
    '## Add a license file', 'Add an MIT LICENSE file.', '',
  ].join('\n'));
  const git = (...args) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  git('config', 'user.name', 'Grove Demo');
  git('config', 'user.email', 'demo@grove.invalid');
  git('add', '-A');
  git('commit', '-qm', 'Initial commit');
  git('branch', 'develop');
  return dir;
}
