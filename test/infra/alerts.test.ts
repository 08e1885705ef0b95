import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type Parser from 'tree-sitter';
import { InvocationContext } from '@azure/functions';
import { RunLog } from '../../functions/sync-users/run-log';
import { summaryLine } from '../../functions/sync-users/handler';
import type { SyncSummary } from '../../shared';
import { Attr, SpanNames } from '../../shared/internal';
import { evaluate, infra, parseBicep, variables } from '../helpers/bicep';

// The alert on the daily run (issue 12), parsed with tree-sitter-bicep like the other infra tests,
// and its query and infra/README.md's Kusto queries checked against what the code emits: the span
// name and attributes (shared/core/telemetry.ts) and the log lines (functions/).

const unquote = (text: string | undefined): string => (text ?? '').replace(/^'|'$/g, '');

function body(declaration: Parser.SyntaxNode | undefined): Parser.SyntaxNode | undefined {
  const direct = declaration?.namedChildren.find((c) => c.type === 'object');
  return direct ?? declaration?.namedChildren.find((c) => c.type === 'if_statement')?.namedChildren.find((c) => c.type === 'object');
}

function property(object: Parser.SyntaxNode | undefined, key: string): Parser.SyntaxNode | undefined {
  return object?.namedChildren.find((c) => c.type === 'object_property' && unquote(c.namedChildren[0]?.text) === key)?.namedChildren[1];
}

function resource(tree: Parser.SyntaxNode, type: string): Parser.SyntaxNode | undefined {
  return tree.descendantsOfType('resource_declaration').find((r) => unquote(r.namedChildren[1]?.text).startsWith(`${type}@`));
}

/** The text of a Bicep multi-line string ('''...'''). */
function multiline(node: Parser.SyntaxNode | undefined): string {
  const text = node?.text ?? '';
  assert.ok(text.startsWith("'''") && text.endsWith("'''"), `a multi-line string: ${text.slice(0, 40)}`);
  return text.slice(3, -3);
}

// Asserted, not annotated: a summary that gains fields elsewhere still makes a line here.
const summary = {
  outcome: 'completed',
  runId: 'r',
  runAt: '2026-01-01T06:00:00.000Z',
  mode: 'delta',
  sends: 'changes',
  snapshotReason: null,
  snapshots: 0,
  upserts: 2,
  removals: 1,
  deltaLinkAdvanced: true,
  resumed: false,
  resumedAtPage: undefined,
  pages: 1,
  entries: 3,
  messages: 3,
  overflowed: 0,
  retryMs: 0,
  durationMs: 900,
  tokenFromCache: true,
  queue: 'queue "users"',
} as SyncSummary;

/** What the handler writes for a run, as it reaches Application Insights' Message column. */
function linesOf(write: (log: RunLog) => void): string[] {
  const lines: string[] = [];
  const log = new RunLog(
    new InvocationContext({ invocationId: 'invocation-1', functionName: 'syncUsers', logHandler: (_level, text) => lines.push(String(text)) }),
  );
  log.identify('1f0c5e9a-2b7d-4c1e-9a3f-5d6e7f8a9b0c');
  write(log);
  return lines;
}

describe('infra/: the alert on a failed or missing daily run', () => {
  const alerts = parseBicep(join(infra, 'modules', 'alerts.bicep')).rootNode;
  const vars = variables(alerts);
  const rule = resource(alerts, 'Microsoft.Insights/scheduledQueryRules');
  const properties = property(body(rule), 'properties');
  const condition = property(property(properties, 'criteria'), 'allOf')?.namedChildren.find((c) => c.type === 'object');
  const query = multiline(vars.get('successfulRuns'));

  it('a log search alert rule on the workspace, every hour, firing when the last 26 hours hold no successful run', () => {
    assert.ok(rule, 'a scheduledQueryRules resource');
    assert.equal(property(body(rule), 'kind')?.text, "'LogAlert'");
    assert.equal(property(properties, 'scopes')?.text, '[logAnalyticsWorkspaceId]');
    assert.equal(property(properties, 'evaluationFrequency')?.text, "'PT1H'");
    assert.equal(property(properties, 'windowSize')?.text, "'P2D'", 'the window covers the 26 hours the query looks at (2 days is the most a log alert takes)');
    assert.equal(property(condition, 'query')?.text, 'successfulRuns');
    assert.deepEqual(
      ['timeAggregation', 'operator', 'threshold'].map((k) => property(condition, k)?.text),
      ["'Count'", "'LessThan'", '1'],
      'no row: no successful run',
    );
    assert.equal(property(properties, 'autoMitigate')?.text, 'true');
    assert.match(query, /ago\(26h\)/);
    assert.match(query, /union isfuzzy=true/);
  });

  it('counts a run as successful by its sync.run span or by its summary line, as the code writes them', () => {
    assert.ok(query.includes(`Name == "${SpanNames.run}" and Success == true`));
    assert.ok(query.includes(`tostring(Properties["${Attr.outcome}"]) == "completed"`));
    assert.match(query, /AppTraces[\s\S]*Message has "Sync finished"/);
    const [line] = linesOf((log) => log.info(summaryLine(summary)));
    assert.match(line ?? '', /^\[run [\w-]+\] Sync finished \(/);
    assert.ok((line ?? '').includes('Sync finished'));
  });

  it('mails alertEmail through an action group created only when it is given', () => {
    const group = resource(alerts, 'Microsoft.Insights/actionGroups');
    const groupCondition = group?.namedChildren.find((c) => c.type === 'if_statement')?.namedChildren.find((c) => c.type === 'parenthesized_expression');
    assert.equal(groupCondition?.text, '(!empty(alertEmail))');
    const receiver = property(property(body(group), 'properties'), 'emailReceivers')?.namedChildren.find((c) => c.type === 'object');
    assert.equal(property(receiver, 'emailAddress')?.text, 'alertEmail');
    const actions = property(property(properties, 'actions'), 'actionGroups');
    assert.equal(actions?.text, 'empty(alertEmail) ? [] : [actionGroup!.id]');
    assert.equal(evaluate(actions?.childForFieldName('condition'), { alertEmail: '' }, vars), true);
  });

  it('main.bicep deploys it on the monitoring workspace; main-graph.bicep passes alertEmail through', () => {
    for (const file of ['main.bicep', 'main-graph.bicep']) {
      const tree = parseBicep(join(infra, file)).rootNode;
      assert.equal(
        tree
          .descendantsOfType('parameter_declaration')
          .find((p) => p.namedChildren[0]?.text === 'alertEmail')
          ?.namedChildren.at(-1)?.text,
        "''",
        `${file}: alertEmail defaults to empty`,
      );
    }
    const main = parseBicep(join(infra, 'main.bicep')).rootNode;
    const module = main.descendantsOfType('module_declaration').find((m) => m.namedChildren[0]?.text === 'alerts');
    assert.equal(module?.namedChildren[1]?.text, "'modules/alerts.bicep'");
    const params = property(body(module), 'params');
    assert.equal(property(params, 'logAnalyticsWorkspaceId')?.text, 'monitoring.outputs.logAnalyticsWorkspaceId');
    assert.equal(property(params, 'alertEmail')?.text, 'alertEmail');
  });

  it("infra/README.md gives the alert's query as deployed, and the two queries on runs, with the names the code uses", () => {
    const readme = readFileSync(join(infra, 'README.md'), 'utf8');
    const section = /## Monitoring\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
    assert.ok(section !== '', 'infra/README.md has a "Monitoring" section');
    assert.match(section, /preview/);
    const kusto = [...section.matchAll(/```kusto\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    assert.equal(kusto.length, 3, 'last runs, failed runs, the alert');
    const [runs = '', failed = '', alert = ''] = kusto;
    assert.equal(alert.trim(), query.trim(), 'the alert query as alerts.bicep deploys it');
    for (const name of [Attr.runId, Attr.outcome, Attr.users, Attr.pages, Attr.messages, Attr.snapshots, Attr.upserts, Attr.removals, Attr.errorType])
      assert.ok(runs.includes(`"${name}"`), `the last-runs query reads ${name}`);
    assert.ok(runs.includes(`Name == "${SpanNames.run}"`));
    assert.ok(failed.includes(`Name == "${SpanNames.run}" and Success == false`));
    assert.ok(failed.includes(`"${Attr.errorType}"`) && failed.includes(`"${Attr.removalsHeld}"`));
    // The log-line half parses what the handler writes on a failure.
    assert.ok(failed.includes('parse Message with "[run " RunId "] Sync failed [" ErrorCode "]:" *'));
    const [line] = linesOf((log) => log.error('Sync failed [REMOVALS_HELD]: Mass-deletion guard: …'));
    assert.match(line ?? '', /^\[run [\w-]+\] Sync failed \[REMOVALS_HELD\]:/);
  });
});
