import { promises as fs } from 'node:fs';
import { readJsonFile } from '../shared/atomic';
import { loadConfig, requireValue } from '../shared/config';
import { MAX_MANIFEST_BYTES, parseDeltaManifest } from '../shared/delta';
import { isAppError } from '../shared/errors';
import { auditParticipation, readGlobalCopies, readLedger, type LedgerEntry, type ParticipationAudit, type PublishedDelta } from '../shared/ledger';
import { assertProfileName, isProfileName, resolveIdentity, Workspace } from '../shared/workspace';
import { readMemberStatus, type FinishedRound } from '../participant/secagg';
import { parseOptions, type Command } from './command';

/** How long a published delta may take to reach the aggregator (sync every few seconds, clocks apart) before its absence counts. */
const SYNC_GRACE_MS = 5 * 60_000;

export const command: Command = {
  usage: `
usage: npm run -s cli -- verify [--profile profile_<n>] [--json]

Run by a participant. Checks, with only the files synced to you:
- the ledger (AGGREGATOR_DATASITE's aggregator/ledger.jsonl) verifies end to end
  (hash chain; no delta merged twice);
- every Global_V version you hold has the sha256 the ledger names for it;
- your latest published delta (its sha256 in profile_<n>/delta.json) is in the
  ledger, once a round ran more than ${SYNC_GRACE_MS / 60_000} minutes after you published it;
- under secure aggregation: whether you were counted among the survivors of the
  last round you took part in, and that your masked input's sha256 is in the ledger.
Exit 0 when everything checks (or nothing is readable yet), 1 on a mismatch.

  --profile  check one profile (default: every profile_<n> you published)
  --json     print the result as JSON
`,
  async run(argv) {
    const { values } = parseOptions(argv, { profile: { type: 'string' }, json: { type: 'boolean' } });
    const config = loadConfig();
    const aggregator = requireValue(config, 'AGGREGATOR_DATASITE', 'verify checks the ledger of this aggregator');
    const ws = new Workspace(resolveIdentity(config), config.APP_NAME);
    if (values.profile !== undefined) assertProfileName(values.profile);
    const profiles = values.profile !== undefined ? [values.profile] : await publishedProfiles(ws);
    const ledgerFile = ws.ledgerFile(aggregator);
    let entries: LedgerEntry[] = [];
    let unreadable: string | null = null;
    try {
      entries = await readLedger(ledgerFile);
    } catch (err) {
      if (!isAppError(err, 'ERR_LEDGER_BROKEN')) throw err;
      unreadable = err.message;
    }
    const globals = await readGlobalCopies(ws.globalDir(aggregator));
    const audits = await Promise.all(
      (profiles.length > 0 ? profiles : [null]).map(async (profile) => ({
        profile,
        audit: auditParticipation(entries, { globals, delta: profile ? await readPublishedDelta(ws, profile) : null, graceMs: SYNC_GRACE_MS }),
      })),
    );
    const secure = await secureParticipation(ws, entries);
    const problems = [...(unreadable ? [unreadable] : []), ...new Set(audits.flatMap(({ audit }) => audit.problems)), ...(secure?.problems ?? [])];
    const first = audits[0].audit;
    const result = {
      ok: problems.length === 0,
      aggregator,
      ledger: { file: ledgerFile, entries: entries.length, verifies: unreadable === null && first.chain.ok },
      globals: first.globals,
      profiles: audits.filter((a) => a.profile !== null).map(({ profile, audit }) => ({ profile, delta: audit.delta })),
      secure: secure?.check ?? null,
      problems,
    };
    process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : describe(result, first));
    return result.ok ? 0 : 1;
  },
};

/** Profiles of mine with a published delta manifest. */
async function publishedProfiles(ws: Workspace): Promise<string[]> {
  const names = await fs.readdir(ws.appData()).catch(() => [] as string[]);
  const found: string[] = [];
  for (const name of names.filter(isProfileName).sort()) {
    if (await fs.lstat(ws.deltaManifest(name)).then(() => true, () => false)) found.push(name);
  }
  return found;
}

/** What this datasite's last secure round says: counted among the survivors, and its masked input in the ledger. */
export interface SecureCheck {
  roundId: string;
  outcome: FinishedRound['outcome'];
  /** Counted among the survivors of a merged round: its contribution is in that Global_V. */
  counted: boolean;
  reason: string | null;
  /** sha256 of the masked input it published (null: it left before masking). */
  maskedSha256: string | null;
  /** The masked input in the ledger (`included`), not yet (`pending`), or absent after a later round (`missing`); null without a masked input. */
  status: 'included' | 'pending' | 'missing' | null;
  /** The Global_V version whose ledger line lists it. */
  version: number | null;
}

async function secureParticipation(ws: Workspace, entries: readonly LedgerEntry[]): Promise<{ check: SecureCheck; problems: string[] } | null> {
  const round = (await readMemberStatus(ws))?.lastRound ?? null;
  if (round === null) return null;
  const delta = round.maskedSha256 ? auditParticipation(entries, { globals: [], delta: { sha256: round.maskedSha256, createdAt: round.endedAt }, graceMs: SYNC_GRACE_MS }).delta : null;
  const check: SecureCheck = { ...pick(round), status: delta?.status ?? null, version: delta?.version ?? null };
  const problems = check.counted && check.status === 'missing' ? [`secure round ${round.roundId} counted this datasite, but its masked input ${round.maskedSha256!.slice(0, 16)}… is not in the ledger`] : [];
  return { check, problems };
}

function pick({ roundId, outcome, counted, reason, maskedSha256 }: FinishedRound) {
  return { roundId, outcome, counted, reason, maskedSha256 };
}

async function readPublishedDelta(ws: Workspace, profile: string): Promise<PublishedDelta | null> {
  const file = ws.deltaManifest(profile);
  const raw = await readJsonFile(file, { maxBytes: MAX_MANIFEST_BYTES });
  if (raw === null) return null;
  const manifest = parseDeltaManifest(raw, file);
  return { sha256: manifest.sha256, createdAt: manifest.createdAt };
}

function describe(
  result: { ok: boolean; ledger: { file: string; entries: number; verifies: boolean }; profiles: { profile: string | null; delta: ParticipationAudit['delta'] }[]; secure: SecureCheck | null; problems: string[] },
  audit: ParticipationAudit,
): string {
  const lines: string[] = [];
  if (result.ledger.entries === 0 && result.problems.length === 0) {
    lines.push(`no ledger readable yet at ${result.ledger.file} (the aggregator grants access once it accepted one of your deltas)`);
  } else {
    lines.push(`ledger: ${result.ledger.entries} round${result.ledger.entries === 1 ? '' : 's'}, hash chain ${result.ledger.verifies ? 'verifies' : 'BROKEN'}`);
  }
  for (const g of audit.globals) {
    const what = g.status === 'match' ? 'matches the ledger' : g.status === 'pending' ? 'not in the ledger you hold yet (still syncing?)' : 'DIFFERS from the ledger';
    lines.push(`Global_V v${g.version}: ${what} (sha256 ${g.sha256.slice(0, 16)}…)`);
  }
  for (const { profile, delta } of result.profiles) {
    if (!delta) lines.push(`${profile}: no delta published`);
    else if (delta.status === 'included') lines.push(`${profile}: delta ${delta.sha256.slice(0, 16)}… merged in version ${delta.version}`);
    else if (delta.status === 'pending') lines.push(`${profile}: delta ${delta.sha256.slice(0, 16)}… not merged yet (no round since it was published)`);
    else lines.push(`${profile}: delta ${delta.sha256.slice(0, 16)}… NOT MERGED`);
  }
  const s = result.secure;
  if (s?.counted) lines.push(`secure round ${s.roundId}: counted among the survivors; your masked input ${s.maskedSha256!.slice(0, 16)}… is ${s.status === 'included' ? `in the ledger at version ${s.version}` : 'not in the ledger you hold yet (still syncing?)'}`);
  else if (s) lines.push(`secure round ${s.roundId}: not counted (${s.outcome}${s.reason ? `: ${s.reason}` : ''})`);
  for (const p of result.problems) lines.push(`problem: ${p}`);
  lines.push(result.ok ? 'OK' : 'MISMATCH');
  return `${lines.join('\n')}\n`;
}
