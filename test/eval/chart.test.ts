import { describe, expect, it } from 'vitest';
import { lineChartSvg, niceStep } from '../../src/eval/chart';

describe('lineChartSvg', () => {
  it('draws one path per series, one dashed line per reference, and a legend entry for each', () => {
    const svg = lineChartSvg({
      title: 'HR@10 <by round>',
      xLabel: 'round',
      yLabel: 'HR@10',
      series: [
        { name: 'federated', points: [[1, 0.05], [2, 0.06], [3, 0.07]] },
        { name: 'dp & co', points: [[1, 0.01], [2, 0.02]] },
      ],
      references: [{ name: 'popularity', y: 0.043 }],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg.match(/stroke-dasharray/g)).toHaveLength(2); // the line and its legend entry
    expect(svg).toContain('HR@10 &lt;by round&gt;');
    expect(svg).toContain('dp &amp; co');
    expect(svg).toContain('popularity (0.0430)');
    expect(svg).not.toContain('NaN');
  });

  it('handles a chart with no data', () => {
    expect(lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', series: [], references: [] })).not.toContain('NaN');
  });

  it('picks 1-2-5 tick steps', () => {
    expect(niceStep(0.08, 5)).toBeCloseTo(0.02, 12);
    expect(niceStep(10, 5)).toBe(2);
    expect(niceStep(0.9, 5)).toBeCloseTo(0.2, 12);
  });
});
