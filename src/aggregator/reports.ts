import type { Catalog } from '../shared/catalog';
import type { Config } from '../shared/config';
import { formatError } from '../shared/errors';
import { cryptoRandom } from '../shared/random';
import { aggregateCommunity } from './community';
import { writeExperimentReport } from './experiment';
import type { RoundContext } from './round';

/**
 * What the aggregator publishes besides Global_V, refreshed after every round
 * and on a timer (community reports arrive weekly, whether or not deltas do):
 * the click-experiment report and, in plain mode, the community statistics of
 * the local reports. A failure here is
 * logged and never undoes a round.
 */
export async function publishAggregatorReports(round: Omit<RoundContext, 'signal'>, config: Config, catalog: Catalog): Promise<void> {
  const { ws, logger } = round;
  try {
    await writeExperimentReport(ws, { appName: config.APP_NAME, now: round.now, random: cryptoRandom(), logger });
  } catch (err) {
    logger.error({ err: formatError(err) }, 'could not write the experiment report');
  }
  // With SECURE_AGGREGATION=on the community statistics come from their own secure rounds (community-round.ts).
  if (config.SECURE_AGGREGATION === 'on') return;
  try {
    await aggregateCommunity(ws, { appName: config.APP_NAME, catalog, minParticipants: config.MIN_PARTICIPANTS, now: round.now, logger });
  } catch (err) {
    logger.error({ err: formatError(err) }, 'could not aggregate the community statistics');
  }
}
