import { describe, expect, it } from 'vitest';
import { niceTicks, renderLineChart } from '../../src/simulate/chart';

describe('niceTicks', () => {
  it('covers the range with steps of 1, 2 or 5 times a power of ten', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 0.07)).toEqual([0, 0.02, 0.04, 0.06]);
    expect(niceTicks(3, 47)).toEqual([10, 20, 30, 40]);
    expect(niceTicks(5, 5)).toEqual([5]);
  });
});

describe('renderLineChart', () => {
  const base = { title: 'CTR <per> week', xLabel: 'week', yLabel: 'rate', x: [1, 2, 3, 4] };

  it('draws one polyline per unbroken run of values, a point per value, and escapes text', () => {
    const svg = renderLineChart({ ...base, series: [{ name: 'local & co', values: [0.1, 0.2, null, 0.3] }, { name: 'global', values: [0.2, 0.1, 0.15, 0.05] }] });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2); // local: [0.1, 0.2] then a lone 0.3; global: one line
    expect(svg.match(/<circle/g)).toHaveLength(7);
    expect(svg).toContain('CTR &lt;per&gt; week');
    expect(svg).toContain('local &amp; co');
  });

  it('puts p-values on a log axis with a dashed guide, leaving out values it cannot place', () => {
    const svg = renderLineChart({ ...base, series: [{ name: 'p', values: [0.5, 0.04, 0.001, 0] }], logY: true, yMax: 1, guides: [{ value: 0.05, label: 'α = 0.05' }] });
    for (const tick of ['0.001', '0.01', '0.1', '>1<']) expect(svg).toContain(tick);
    expect(svg).toContain('stroke-dasharray');
    expect(svg).toContain('α = 0.05');
    expect(svg.match(/<circle/g)).toHaveLength(3);
  });

  it('renders without data', () => {
    const svg = renderLineChart({ ...base, x: [], series: [{ name: 'none', values: [] }] });
    expect(svg).toContain('</svg>');
    expect(svg).not.toContain('NaN');
  });
});
