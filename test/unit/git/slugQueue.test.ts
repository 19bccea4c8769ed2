import assert from 'node:assert/strict';
import { MAX_SLUG_LENGTH, slugify, withSuffix } from '../../../src/core/util/slug';
import { KeyedQueue, Limiter } from '../../../src/core/util/queue';
import { gitStatus, useTempRepos } from '../../support/repo';

describe('slug', () => {
  const repos = useTempRepos();
  const hostile = [
    '../../etc/passwd',
    '"; rm -rf ~',
    '😀'.repeat(500),
    'Fix login bug',
    'Crème brûlée für Straße',
    '...',
    '.lock',
    'feature.lock',
    'a..b',
    '@{u}',
    'HEAD',
    '-rf',
    'con',
    'x'.repeat(200),
    '  ',
    'C:\\Windows\\System32',
    'tab\tnew\nline\u0000nul',
  ];

  it('is lowercase ASCII, at most 60 characters, never empty, whatever the title', () => {
    for (const title of hostile) {
      const s = slugify(title);
      assert.match(s, /^[a-z0-9]+(-[a-z0-9]+)*$/, `slug of ${JSON.stringify(title)} was ${s}`);
      assert.ok(s.length <= MAX_SLUG_LENGTH, `${s} is too long`);
    }
    assert.equal(slugify('../../etc/passwd'), 'etc-passwd');
    assert.equal(slugify('"; rm -rf ~'), 'rm-rf');
    assert.equal(slugify('😀'.repeat(500)), 'task');
    assert.equal(slugify('Crème brûlée für Straße'), 'creme-brulee-fur-strasse');
    assert.equal(slugify('con'), 'con-task');
  });

  it('is accepted by `git check-ref-format --branch` under a prefix, also with suffixes', () => {
    const root = repos.create();
    for (const title of hostile) {
      for (const slug of [slugify(title), withSuffix(slugify(title), 12)]) {
        assert.equal(gitStatus(root, 'check-ref-format', '--branch', `grove/${slug}`), 0, `git rejects grove/${slug}`);
      }
    }
  });

  it('adds -N suffixes without exceeding the limit', () => {
    const long = slugify('y'.repeat(100));
    assert.equal(withSuffix(long, 1), long);
    const s = withSuffix(long, 123);
    assert.ok(s.endsWith('-123') && s.length === MAX_SLUG_LENGTH, s);
    assert.equal(withSuffix('fix', 2), 'fix-2');
  });
});

describe('queue', () => {
  const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('KeyedQueue runs one key serially, in order, and survives a failing task', async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const task = (name: string, fail = false) => async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await tick(5);
      log.push(name);
      running--;
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([q.run('a', task('1')), q.run('a', task('2', true)), q.run('a', task('3'))]);
    assert.deepEqual(log, ['1', '2', '3']);
    assert.equal(maxRunning, 1);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal(q.activeKeys, 0);
  });

  it('KeyedQueue runs different keys concurrently', async () => {
    const q = new KeyedQueue();
    let running = 0;
    let maxRunning = 0;
    const task = async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await tick(10);
      running--;
    };
    await Promise.all([q.run('a', task), q.run('b', task), q.run('c', task)]);
    assert.equal(maxRunning, 3);
  });

  it('Limiter never exceeds its limit and runs everything', async () => {
    const limiter = new Limiter(3);
    let running = 0;
    let maxRunning = 0;
    const done: number[] = [];
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        limiter.run(async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await tick(3);
          running--;
          done.push(i);
          if (i === 4) throw new Error('boom');
        }).catch(() => undefined),
      ),
    );
    assert.equal(maxRunning, 3);
    assert.equal(done.length, 10);
    assert.equal(limiter.active, 0);
  });
});
