import { invokeSync } from '../invoke';
import { countRequests, cpuSince, exitWithParent, trackLiveHeap, type ScenarioReport } from './protocol';

/**
 * npm run bench's scenarios (c), (d), (e) and "reading alone": this sync, the production path
 * (the Function's handler with a real InvocationContext, as npm run sync -- --once runs it), in a
 * process that holds nothing else, so that its peak RSS is the sync's. Settings come from the
 * environment bench.ts gives it (SYNC_MODE, USERS_QUEUE_NAME, the stack's endpoints).
 */
async function main(): Promise<void> {
  exitWithParent();
  const requests = countRequests();
  const liveHeap = trackLiveHeap();
  const problems: string[] = [];
  const started = performance.now();
  const cpu = process.cpuUsage();
  const summary = await invokeSync({
    liveProgress: process.stderr.isTTY,
    write: (level, line) => {
      if (level === 'error' || level === 'warning') problems.push(line);
    },
  });
  const wallMs = performance.now() - started;
  const report: ScenarioReport = {
    ok: summary !== undefined && summary.outcome === 'completed',
    wallMs,
    users: summary?.entries ?? 0,
    messages: summary?.messages ?? 0,
    requests: requests(),
    maxRssKiB: process.resourceUsage().maxRSS,
    liveHeapKiB: liveHeap(),
    cpuMs: cpuSince(cpu),
    ...(summary === undefined ? { error: problems.join(' | ').slice(0, 2000) } : {}),
    details: { summary, warnings: problems.slice(0, 5) },
  };
  process.send?.(report, () => process.exit(0));
}

void main();
