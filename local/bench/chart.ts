/**
 * npm run bench's chart: grouped bars (one group per scenario, one bar per network model) as a
 * small SVG written by hand. A charting library would be worse here: the common ones draw in a
 * browser (a DOM or a canvas, so a headless browser or jsdom to get a file), weigh megabytes for
 * a dozen rectangles, and their output changes with their versions, which makes every re-run a
 * noisy diff of a committed file. This is deterministic for the same figures.
 */

export interface ChartSeries {
  label: string;
  color: string;
  /** By category key; a missing value draws no bar (and "not run" under the group). */
  values: Readonly<Record<string, number | undefined>>;
}

export interface BarChart {
  title: string;
  subtitle: string;
  /** The y axis's unit, e.g. "users/s". */
  unit: string;
  categories: readonly { key: string; label: string }[];
  series: readonly ChartSeries[];
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A step of 1, 2 or 5 × 10^n giving about `ticks` ticks up to `max`. */
export function niceStep(max: number, ticks = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  return step;
}

const format = (value: number): string => Math.round(value).toLocaleString('en-US');

export function renderBarChart(chart: BarChart): string {
  const width = 820;
  const height = 380;
  const left = 72;
  const right = 20;
  const top = 64;
  const bottom = 64;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const max = Math.max(1, ...chart.series.flatMap((s) => chart.categories.map((c) => s.values[c.key] ?? 0)));
  const step = niceStep(max);
  const yMax = Math.ceil(max / step) * step;
  const y = (value: number): number => top + plotHeight - (value / yMax) * plotHeight;
  const groupWidth = plotWidth / Math.max(1, chart.categories.length);
  const barWidth = Math.min(48, (groupWidth * 0.8) / Math.max(1, chart.series.length));
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="24" font-size="16" font-weight="bold">${escapeXml(chart.title)}</text>`);
  out.push(`<text x="${left}" y="44" fill="#555555">${escapeXml(chart.subtitle)}</text>`);
  for (let value = 0; value <= yMax + step / 2; value += step) {
    const at = y(value).toFixed(1);
    out.push(`<line x1="${left}" x2="${width - right}" y1="${at}" y2="${at}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${left - 6}" y="${at}" text-anchor="end" dominant-baseline="middle" fill="#555555">${format(value)}</text>`);
  }
  out.push(`<text transform="translate(16 ${top + plotHeight / 2}) rotate(-90)" text-anchor="middle" fill="#555555">${escapeXml(chart.unit)}</text>`);
  chart.categories.forEach((category, index) => {
    const groupLeft = left + index * groupWidth + (groupWidth - barWidth * chart.series.length) / 2;
    chart.series.forEach((series, s) => {
      const value = series.values[category.key];
      if (value === undefined) return;
      const x = groupLeft + s * barWidth;
      out.push(
        `<rect x="${x.toFixed(1)}" y="${y(value).toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${(top + plotHeight - y(value)).toFixed(1)}" fill="${series.color}"><title>${escapeXml(`${series.label}, ${category.label}: ${format(value)} ${chart.unit}`)}</title></rect>`,
      );
      out.push(`<text x="${(x + (barWidth - 4) / 2).toFixed(1)}" y="${(y(value) - 4).toFixed(1)}" text-anchor="middle" font-size="10">${format(value)}</text>`);
    });
    const lines = category.label.split('\n');
    lines.forEach((line, l) =>
      out.push(
        `<text x="${(left + index * groupWidth + groupWidth / 2).toFixed(1)}" y="${top + plotHeight + 18 + l * 14}" text-anchor="middle">${escapeXml(line)}</text>`,
      ),
    );
  });
  out.push(`<line x1="${left}" x2="${width - right}" y1="${top + plotHeight}" y2="${top + plotHeight}" stroke="#333333"/>`);
  chart.series.forEach((series, s) => {
    const x = width - right - 150 * (chart.series.length - s);
    out.push(`<rect x="${x}" y="14" width="12" height="12" fill="${series.color}"/><text x="${x + 18}" y="24">${escapeXml(series.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
