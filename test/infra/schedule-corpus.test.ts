import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkSchedule, hostSchedule } from '../../shared/internal';
import { root } from '../helpers/bicep';

// The schedule corpus (test/ncrontab/corpus.json): what the Functions host makes of each
// expression, checked against the real NCrontab.Signed by test/ncrontab (dotnet run, in .ci/run).
// Here: shared/schedule.ts reads each one as the host does, and SYNC_SCHEDULE's check accepts
// exactly those that the host accepts and that fire.

interface Entry {
  expression: string;
  host: 'cron' | 'timespan' | 'invalid';
  fires: boolean;
  note: string;
}
const corpus = (JSON.parse(readFileSync(join(root, 'test', 'ncrontab', 'corpus.json'), 'utf8')) as { expressions: Entry[] }).expressions;

describe('SYNC_SCHEDULE against the host corpus (test/ncrontab/corpus.json)', () => {
  it('has at least 60 expressions, valid, invalid and never-firing, cron and TimeSpan', () => {
    assert.ok(corpus.length >= 60, String(corpus.length));
    for (const kind of ['cron', 'timespan', 'invalid'])
      assert.ok(
        corpus.some((e) => e.host === kind),
        kind,
      );
    assert.ok(corpus.some((e) => e.host === 'cron' && !e.fires));
  });

  for (const entry of corpus) {
    it(`${JSON.stringify(entry.expression)} (${entry.note}): host ${entry.host}${entry.host === 'invalid' ? '' : entry.fires ? ', fires' : ', never fires'}`, () => {
      const read = hostSchedule(entry.expression);
      assert.equal(read.kind, entry.host);
      if (read.kind !== 'invalid') assert.equal(read.fires, entry.fires);
      const problems: string[] = [];
      // Settings arrive trimmed (SettingsReader); the host trims the same white space away.
      checkSchedule(entry.expression.trim() === '' ? entry.expression : entry.expression.trim(), problems);
      const accepted = entry.host !== 'invalid' && entry.fires;
      assert.equal(problems.length, accepted ? 0 : 1, problems.join('\n'));
      if (!accepted) assert.match(problems[0] ?? '', /^SYNC_SCHEDULE ".*"[^]*; it must be six-field NCRONTAB in UTC/);
    });
  }

  it('the corpus matches NCrontab.Signed (dotnet run in test/ncrontab; skipped without the .NET SDK outside CI)', (t) => {
    const dotnet = spawnSync('dotnet', ['--version'], { encoding: 'utf8' });
    if (dotnet.status !== 0) {
      if (process.env.CI === 'true') assert.fail('the .NET SDK (dotnet) is needed to check the corpus against NCrontab.Signed');
      t.skip('no .NET SDK: install it (dotnet 10) to check test/ncrontab/corpus.json against NCrontab.Signed');
      return;
    }
    if (!existsSync(join(root, 'test', 'ncrontab', 'ncrontab-corpus.csproj'))) assert.fail('test/ncrontab/ncrontab-corpus.csproj is missing');
    // .ci/run runs it too, first; here it is the same check for a developer's `npm test`.
    const run = spawnSync('dotnet', ['run', '--project', join(root, 'test', 'ncrontab')], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /ncrontab corpus: \d+ passed, 0 failed/);
  });
});
