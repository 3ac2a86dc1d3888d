import { afterEach, describe, expect, it } from 'vitest';
import { runParticipantPass } from '../../src/participant/node';
import { readLatestGlobal } from '../../src/shared/global-model';
import { createRandom, deriveSeed } from '../../src/shared/random';
import { runSecureRoundInProcess } from '../../src/simulate/secure-round';
import { AGGREGATOR } from '../helpers/root';
import { createFederation, type Federation } from '../helpers/secagg';

/** The in-process driver: members answering several at a time give the round that one at a time gives. */
const MEMBERS = 7;
let feds: Federation[] = [];
afterEach(async () => {
  for (const f of feds) await f.root.cleanup();
  feds = [];
});

/** A federation whose members round their contributions with seeded generators (the same encodings in both). */
async function seededFederation(): Promise<Federation> {
  const f = await createFederation(MEMBERS);
  feds.push(f);
  for (const m of f.members) m.noiseRandom = () => createRandom(deriveSeed(7, `rounding:${m.ws.email}`));
  for (const m of f.members) await runParticipantPass(m);
  return f;
}

async function globalBytes(f: Federation): Promise<Buffer> {
  const latest = (await readLatestGlobal(f.root.ws.globalDir(AGGREGATOR), f.aggregator.model))!;
  return Buffer.from(latest.values.buffer, latest.values.byteOffset, latest.values.byteLength);
}

describe('runSecureRoundInProcess', () => {
  it('with members answering concurrently commits the same Global_V, bit for bit, as one at a time (two rounds)', async () => {
    const one = await seededFederation();
    const many = await seededFederation();
    for (const version of [1, 2]) {
      const turns: number[] = [];
      const sequential = await runSecureRoundInProcess(one.aggregator, one.members);
      const concurrent = await runSecureRoundInProcess(many.aggregator, many.members, { concurrency: 3, afterMember: ({ index }) => void turns.push(index) });
      for (const summary of [sequential, concurrent]) expect(summary).toMatchObject({ outcome: 'merged', version, cohort: MEMBERS, dropped: 0 });
      expect((await globalBytes(many)).equals(await globalBytes(one))).toBe(true);
      // every member took each of its turns (keys, shares, masked input, reveal, reading the result)
      expect(turns).toHaveLength(5 * MEMBERS);
      for (let i = 0; i < MEMBERS; i++) expect(turns.filter((t) => t === i)).toHaveLength(5);
      for (const f of [one, many]) for (const m of f.members) await runParticipantPass(m);
    }
  }, 300_000);

  it('refuses a concurrency that is not a positive integer, and afterStep with more than one member at a time', async () => {
    const f = await createFederation(3);
    feds.push(f);
    await expect(runSecureRoundInProcess(f.aggregator, f.members, { concurrency: 0 })).rejects.toThrow(/concurrency must be a positive integer/);
    await expect(runSecureRoundInProcess(f.aggregator, f.members, { concurrency: 2, afterStep: async () => {} })).rejects.toThrow(/afterStep needs the members one at a time/);
  });
});
