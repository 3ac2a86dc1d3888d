import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/shared/catalog';
import { loadConfig } from '../../src/shared/config';
import { simulateWeekBenchmark } from '../../src/bench/week';

describe('simulateWeekBenchmark', () => {
  it('times every step of the second week, splitting the participant pass where it reports each step', async () => {
    const result = await simulateWeekBenchmark({ participants: 4, rank: 4, audit: false }, { config: loadConfig({ env: {}, dotenv: false }), catalog: await loadCatalog() });
    expect(result.weekMs).toHaveLength(2);
    expect(result.weekCpuMs).toHaveLength(2);
    // every pass reported its three steps: almost nothing is left unattributed
    for (const step of ['historyParse', 'training', 'deltaWrite', 'round', 'recommendation'] as const) expect(result.steps[step]).toBeGreaterThan(0);
    expect(result.steps.passOther).toBeLessThan(result.steps.historyParse + result.steps.training + result.steps.deltaWrite);
    expect(Object.keys(result.steps)).toContain(result.dominant);
    expect(Object.keys(result.perParticipantMs).sort()).toEqual(['permissionCheck', 'readGrantedGlobal']);
    expect(result).toMatchObject({ participants: 4, rank: 4, ledgerOk: true, auditOk: null, checksMs: { audit: 0 } });
    expect(result.rootMb).toBeGreaterThan(0);
  });
});
