import { SpanStatusCode, metrics, type Attributes, type HrTime } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { Attr, telemetryScope } from '../shared';

/**
 * OpenTelemetry on a laptop and in the tests: the SDK registered with in-memory exporters instead
 * of Azure Monitor's, so that a run's spans and metrics can be read back (the tests) and printed
 * (`npm run local -- --telemetry`, `npm run sync -- --once --telemetry`): a tree of the spans and
 * a table of the metric values, per run. Printed output goes through the same leak scan as every
 * other line of `npm test`.
 */

/** A reader that collects when asked, each time what was recorded since the last time (delta). */
class OnDemandReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface TelemetrySnapshot {
  /** Spans ended since the last take, in the order they ended. */
  readonly spans: readonly ReadableSpan[];
  /** Metric points recorded since the last take. */
  readonly metrics: readonly MetricPoint[];
}

export interface MetricPoint {
  readonly name: string;
  readonly attributes: Attributes;
  /** A counter's sum. */
  readonly value?: number;
  /** A histogram's count, sum, min and max. */
  readonly histogram?: { count: number; sum: number; min: number | undefined; max: number | undefined };
}

export interface LocalTelemetry {
  /** Takes out what was recorded since the last call. */
  take(): Promise<TelemetrySnapshot>;
  shutdown(): Promise<void>;
}

/** Registers the SDK globally (once per process), with in-memory exporters. */
export function startLocalTelemetry(): LocalTelemetry {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  tracerProvider.register();
  const reader = new OnDemandReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);
  return {
    async take(): Promise<TelemetrySnapshot> {
      await tracerProvider.forceFlush();
      const ended = spans.getFinishedSpans();
      spans.reset();
      const { resourceMetrics } = await reader.collect();
      return { spans: ended, metrics: metricPoints(resourceMetrics) };
    },
    async shutdown(): Promise<void> {
      await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}

function metricPoints(resourceMetrics: ResourceMetrics): MetricPoint[] {
  const points: MetricPoint[] = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    if (scope.scope.name !== telemetryScope.name) continue;
    for (const metric of scope.metrics) {
      for (const point of metric.dataPoints) {
        const value = point.value;
        if (typeof value === 'number') {
          if (metric.dataPointType === DataPointType.SUM && value === 0) continue;
          points.push({ name: metric.descriptor.name, attributes: point.attributes, value });
        } else if (metric.dataPointType === DataPointType.HISTOGRAM && 'buckets' in value) {
          if (value.count === 0) continue;
          points.push({
            name: metric.descriptor.name,
            attributes: point.attributes,
            histogram: { count: value.count, sum: value.sum ?? 0, min: value.min, max: value.max },
          });
        }
      }
    }
  }
  return points;
}

/** The snapshot as text: each trace as an indented tree (long runs of same-named siblings folded), then the metrics. */
export function renderTelemetry(snapshot: TelemetrySnapshot): string[] {
  const lines: string[] = [];
  const ids = new Set(snapshot.spans.map((s) => s.spanContext().spanId));
  const children = new Map<string, ReadableSpan[]>();
  const roots: ReadableSpan[] = [];
  for (const span of [...snapshot.spans].sort((a, b) => ms(a.startTime) - ms(b.startTime))) {
    const parent = span.parentSpanContext?.spanId;
    if (parent === undefined || !ids.has(parent)) roots.push(span);
    else children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const walk = (span: ReadableSpan, depth: number): void => {
    lines.push(`${'  '.repeat(depth + 1)}${spanLine(span)}`);
    const kids = children.get(span.spanContext().spanId) ?? [];
    // Siblings of one name in a row (the pages of a long walk): more than five show as three and a count.
    for (let i = 0; i < kids.length;) {
      let end = i;
      while (end < kids.length && kids[end]?.name === kids[i]?.name) end++;
      const group = kids.slice(i, end);
      const shown = group.length > 5 ? group.slice(0, 3) : group;
      for (const kid of shown) walk(kid, depth + 1);
      const rest = group.slice(shown.length);
      if (rest.length > 0)
        lines.push(
          `${'  '.repeat(depth + 2)}… ${rest.length} more ${rest[0]?.name ?? ''} (${Math.round(rest.reduce((sum, k) => sum + ms(k.duration), 0))} ms in all)`,
        );
      i = end;
    }
  };
  lines.push(`Spans (${snapshot.spans.length}):`);
  for (const root of roots) walk(root, 0);
  lines.push(`Metrics (${snapshot.metrics.length} points):`);
  for (const point of snapshot.metrics) {
    const name = `${point.name}${attributeList(point.attributes, '{', '}')}`;
    if (point.histogram !== undefined) {
      const h = point.histogram;
      lines.push(`  ${name}  count ${h.count}, sum ${seconds(h.sum)}, min ${seconds(h.min)}, max ${seconds(h.max)}`);
    } else {
      lines.push(`  ${name}  ${point.value ?? 0}`);
    }
  }
  return lines;
}

function spanLine(span: ReadableSpan): string {
  const failed = span.status.code === SpanStatusCode.ERROR ? ` FAILED ${String(span.attributes[Attr.errorType] ?? '')}` : '';
  return `${span.name} ${Math.round(ms(span.duration))} ms${failed}${attributeList(span.attributes, '  ', '')}`;
}

function attributeList(attributes: Attributes, open: string, close: string): string {
  const entries = Object.entries(attributes).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '';
  return `${open}${entries.map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : String(v)}`).join(open === '{' ? ',' : ' ')}${close}`;
}

function ms(time: HrTime): number {
  return time[0] * 1000 + time[1] / 1e6;
}

function seconds(value: number | undefined): string {
  if (value === undefined) return '-';
  return value >= 1 ? `${value.toFixed(2)} s` : `${(value * 1000).toFixed(1)} ms`;
}

/** Prints what the last run recorded (the --telemetry flag of the local commands). */
export async function printTelemetry(telemetry: LocalTelemetry, write: (text: string) => void = (text) => process.stdout.write(text)): Promise<void> {
  const lines = renderTelemetry(await telemetry.take());
  write(
    `Telemetry of this run (--telemetry: in memory here; in Azure the same spans and metrics go to Application Insights):\n${lines.map((l) => `  ${l}`).join('\n')}\n`,
  );
}
