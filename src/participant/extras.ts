import { formatError } from '../shared/errors';
import { syncBlend } from './blend';
import { publishAllClickCounts } from './click-counts';
import { publishAllCommunityStats } from './community';
import type { ParticipantContext, PassResult } from './node';

/**
 * What a participant publishes besides its delta, after each pass: in plain
 * mode this week's locally-private community report and noised click counts,
 * and the blend file while both friends consent. Failures are logged; they never stop the training loop.
 */
export async function afterParticipantPass(ctx: ParticipantContext, result: PassResult): Promise<void> {
  try {
    // With SECURE_AGGREGATION=on the week goes out only inside a community round (community-round.ts).
    if (ctx.config.SECURE_AGGREGATION === 'off') {
      const profiles = result.profiles.map((p) => p.profile);
      await publishAllCommunityStats(ctx, profiles);
      await publishAllClickCounts(ctx, profiles);
    }
    await syncBlend(ctx);
  } catch (err) {
    ctx.logger.error({ err: formatError(err) }, 'could not publish community statistics, click counts or the blend');
  }
}
