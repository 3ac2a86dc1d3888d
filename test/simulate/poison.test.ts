import { afterEach, describe, expect, it } from 'vitest';
import { runParticipantPass } from '../../src/participant/node';
import type { MemberStep } from '../../src/participant/secagg';
import { listGlobalVersions, readLatestGlobal } from '../../src/shared/global-model';
import { createRandom } from '../../src/shared/random';
import { poisonMaskedInput, poisonTarget, type PoisonAttack } from '../../src/simulate/poison';
import { runSecureRoundInProcess } from '../../src/simulate/secure-round';
import { AGGREGATOR } from '../helpers/root';
import { createFederation, RANK, type Federation } from '../helpers/secagg';

let fed: Federation | null = null;
afterEach(async () => {
  await fed?.root.cleanup();
  fed = null;
});

/** One secure round of 4 trained members in which member 0 adds `attack` to its masked input. */
async function poisonedRound(attack: PoisonAttack | null, checkSum: boolean) {
  fed = await createFederation(4);
  const f = fed;
  for (const m of f.members) await runParticipantPass(m);
  let poisoned = 0;
  const afterMember = async ({ index, steps }: { index: number; steps: MemberStep[] }) => {
    const masked = steps.find((s) => s.action === 'masked');
    if (attack === null || index !== 0 || masked?.action !== 'masked') return;
    const target = await poisonTarget(f.aggregator.ws, f.members[0].ws, masked.roundId, 4, new Date().toISOString());
    await poisonMaskedInput(attack, target, createRandom(5));
    poisoned++;
  };
  const summary = await runSecureRoundInProcess({ ...f.aggregator, secure: { ...f.aggregator.secure, checkSum } }, f.members, { afterMember });
  expect(poisoned).toBe(attack === null ? 0 : 1);
  return { f, summary: summary! };
}

describe('one malicious member in a secure round', () => {
  it('garbage in its masked input: the aggregator refuses the sum and publishes no Global_V', async () => {
    const { f, summary } = await poisonedRound('garbage', true);
    expect(summary).toMatchObject({ outcome: 'aborted', version: 0 });
    expect(summary.reason).toMatch(/out of bounds/);
    expect(await listGlobalVersions(f.root.ws.globalDir(AGGREGATOR))).toEqual([]);
  });

  it('without the sum check the same garbage becomes Global_V (what the check prevents)', async () => {
    const largestOf = async (attack: PoisonAttack | null) => {
      const { f, summary } = await poisonedRound(attack, false);
      expect(summary).toMatchObject({ outcome: 'merged', version: 1 });
      const v1 = (await readLatestGlobal(f.root.ws.globalDir(AGGREGATOR), f.aggregator.model))!;
      await f.root.cleanup();
      fed = null;
      return v1.values.reduce((acc, v) => Math.max(acc, Math.abs(v)), 0);
    };
    const honest = await largestOf(null);
    // the optimizer's step damps what reaches Global_V, but the garbage still dominates it
    expect(await largestOf('garbage')).toBeGreaterThan(5 * honest);
  });
});
