import type { Command } from './command';

/**
 * Every command by name, with its one-line summary: `cli --help` prints this table
 * without loading any command, and `cli <name>` imports only that command's module
 * (and what it imports), so each command starts as fast as its own code allows.
 */
export interface CommandEntry {
  name: string;
  /** One line for `cli --help`. */
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'aggregator', summary: 'merge participants\' deltas into Global_V (daemon, or --once)', load: async () => (await import('./aggregator')).command },
  { name: 'app', summary: 'the SyftBox app process that run.sh starts: aggregator and/or participant loops and the page', load: async () => (await import('./app')).command },
  { name: 'audit', summary: 'list who can read/write every published file; exit 1 on a privacy violation', load: async () => (await import('./audit')).command },
  { name: 'demo', summary: 'run the embedded demo: an aggregator and five participants in a local SyftBox-layout folder', load: async () => (await import('./demo')).command },
  { name: 'eval', summary: 'evaluate the federated model on a MovieLens-format folder (metrics, baselines, DP, charts)', load: async () => (await import('./eval')).command },
  { name: 'ingest', summary: 'read a Netflix export and report its rows, dates, shows and catalogue matches', load: async () => (await import('./ingest')).command },
  { name: 'participant', summary: 'train on your private history and contribute to the aggregator\'s rounds (watch mode, or --once)', load: async () => (await import('./participant')).command },
  { name: 'recommend', summary: 'print the local and global recommendations of a profile', load: async () => (await import('./recommend')).command },
  { name: 'serve', summary: 'serve the two-column recommendation page (click experiment) for one profile', load: async () => (await import('./serve')).command },
  { name: 'simulate', summary: 'closed-loop simulation: P participants with hidden tastes train, publish, merge, see both lists and click, week by week', load: async () => (await import('./simulate')).command },
  { name: 'verify', summary: 'check the aggregator\'s ledger: hash chain, your Global_V copies, your latest contribution merged (and counted)', load: async () => (await import('./verify')).command },
];
