import { readFileSync } from 'node:fs';
import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { cleanText, decomposeTitle, parseSeason } from '../../../src/shared/history';
import { REAL_EXPORT } from '../../helpers/data';


const series = (show: string, season: string | null, episode: string | null) => ({ show, kind: 'series', season, episode });
const film = (show: string) => ({ show, kind: 'film', season: null, episode: null });

describe('decomposeTitle', () => {
  it.each([
    ['Lucifer: Sæson 5: Spoiler Alert', series('Lucifer', 'Sæson 5', 'Spoiler Alert')],
    ['Breaking Bad: Season 1: Pilot', series('Breaking Bad', 'Season 1', 'Pilot')],
    ['La Casa de Papel: Temporada 2: Episodio 3', series('La Casa de Papel', 'Temporada 2', 'Episodio 3')],
    ['Mindhunter: Saison 2 : Épisode 1', series('Mindhunter', 'Saison 2', 'Épisode 1')],
    ['Dark: Staffel 1: Geheimnisse', series('Dark', 'Staffel 1', 'Geheimnisse')],
    ['Wiedźmin: Sezon 1: Koniec początkiem', series('Wiedźmin', 'Sezon 1', 'Koniec początkiem')],
    ['Undercover: Seizoen 2: Aflevering 1', series('Undercover', 'Seizoen 2', 'Aflevering 1')],
    ['Bron/Broen: Säsong 1: Avsnitt 1', series('Bron/Broen', 'Säsong 1', 'Avsnitt 1')],
    ['Skam: Sesong 3: Episode 1', series('Skam', 'Sesong 3', 'Episode 1')],
    ['Suburra: Stagione 1: 21 giorni', series('Suburra', 'Stagione 1', '21 giorni')],
    ['Sorjonen: Kausi 1: Jakso 1', series('Sorjonen', 'Kausi 1', 'Jakso 1')],
    ['Aranyélet: 1. évad: 1. rész', series('Aranyélet', '1. évad', '1. rész')],
    ['Most Beautiful Thing: Série 1', series('Most Beautiful Thing', 'Série 1', null)],
    ['Кухня: Сезон 1: Серия 1', series('Кухня', 'Сезон 1', 'Серия 1')],
    ['鬼滅の刃：シーズン1：残酷', series('鬼滅の刃', 'シーズン1', '残酷')],
    ['사랑의 불시착: 시즌 1: 1화', series('사랑의 불시착', '시즌 1', '1화')],
    ['如懿傳: 第1季: 第1集', series('如懿傳', '第1季', '第1集')],
    ['The Crown: 2nd Season: Misadventure', series('The Crown', '2nd Season', 'Misadventure')],
    ['Squid Game: Season One: Red Light, Green Light', series('Squid Game', 'Season One', 'Red Light, Green Light')],
    ['Heartstopper: Season 1 (Part 2): Meet', series('Heartstopper', 'Season 1 (Part 2)', 'Meet')],
  ])('splits a localized season: %s', (title, expected) => {
    expect(decomposeTitle(title)).toEqual(expected);
  });

  it.each([
    ["The Queen's Gambit: Limited Series: Openings", series("The Queen's Gambit", 'Limited Series', 'Openings')],
    ['Unorthodox: Miniseries: Part 1', series('Unorthodox', 'Miniseries', 'Part 1')],
    ['Conversations with a Killer: The Ted Bundy Tapes: Miniserie: One of Us', series('Conversations with a Killer: The Ted Bundy Tapes', 'Miniserie', 'One of Us')],
    ['Money Heist: Part 1: Episode 1', series('Money Heist', 'Part 1', 'Episode 1')],
    ['Chilling Adventures of Sabrina: Del 3: Kapitel 28: Sabrina Is Legend', series('Chilling Adventures of Sabrina', 'Del 3', 'Kapitel 28: Sabrina Is Legend')],
    ['Ashley Garcia: Genial og forelsket: Teil 1: Haptik', series('Ashley Garcia: Genial og forelsket', 'Teil 1', 'Haptik')],
    ["Love, Death & Robots: Volume 1: Sonnie's Edge", series('Love, Death & Robots', 'Volume 1', "Sonnie's Edge")],
    ['Some Show: Vol. 2: Finale', series('Some Show', 'Vol. 2', 'Finale')],
    ['Avatar: The Last Airbender: Book 1: Water: The Boy in the Iceberg', series('Avatar: The Last Airbender', 'Book 1', 'Water: The Boy in the Iceberg')],
    ['The Great British Baking Show: Collection 1: Cake Week', series('The Great British Baking Show', 'Collection 1', 'Cake Week')],
    ['Top Gear: Series 22: Episode 1', series('Top Gear', 'Series 22', 'Episode 1')],
    ['Narcos: Mexico: Season 1: Camelot', series('Narcos: Mexico', 'Season 1', 'Camelot')],
    ['Stranger Things: Stranger Things 2: Chapter One: MADMAX', series('Stranger Things', 'Stranger Things 2', 'Chapter One: MADMAX')],
    ['Stranger Things: Stranger Things 3: Kap. 8: Slaget ved Starcourt', series('Stranger Things', 'Stranger Things 3', 'Kap. 8: Slaget ved Starcourt')],
    ['Avatar: Avatar: Luftens sidste mester – bog 1: Jet', series('Avatar: Avatar', 'Luftens sidste mester – bog 1', 'Jet')],
    ['Ninjago: Masters of Spinjitzu: Elementernes turnering: Fjender', series('Ninjago', 'Masters of Spinjitzu', 'Elementernes turnering: Fjender')],
    ['Our Planet: Episode 1', series('Our Planet', null, 'Episode 1')],
  ])('splits limited series, parts, volumes, books, chapters: %s', (title, expected) => {
    expect(decomposeTitle(title)).toEqual(expected);
  });

  it.each([
    ['American Horror Story: Murder House: Halloween – del 1', series('American Horror Story', 'Murder House', 'Halloween – del 1')],
    ['American Horror Story: Murder House: Halloween - Part 2', series('American Horror Story', 'Murder House', 'Halloween - Part 2')],
    ['Some Show: Some Season: Part 2', series('Some Show', 'Some Season', 'Part 2')],
    // not in the last part, it is still a season
    ['Avatar: Avatar: Luftens sidste mester – bog 1: Jet', series('Avatar: Avatar', 'Luftens sidste mester – bog 1', 'Jet')],
  ])('reads a part word in the last part as the episode name, never the season: %s', (title, expected) => {
    expect(decomposeTitle(title)).toEqual(expected);
  });

  it.each([
    ['Ninjago: Masters of Spinjitzu: Elementernes turnering: Fjender', series('Ninjago: Masters of Spinjitzu', 'Elementernes turnering', 'Fjender')],
    ['Trailer Park Boys: The Animated Series: Friday Night Nights', series('Trailer Park Boys: The Animated Series', null, 'Friday Night Nights')],
    ['Ninjago: Masters of Spinjitzu: Chapter 3: Enemies', series('Ninjago: Masters of Spinjitzu', null, 'Chapter 3: Enemies')],
    ['Ninjago: Masters of Spinjitzu: Possession: Chapter 3', series('Ninjago: Masters of Spinjitzu', 'Possession', 'Chapter 3')],
    // a marker says where the show ends, whatever the show's length
    ['Narcos: Season 1: Descenso', series('Narcos', 'Season 1', 'Descenso')],
    ['Our Planet: Episode 1: One Planet', series('Our Planet', null, 'Episode 1: One Planet')],
    ['Mission: Impossible', film('Mission: Impossible')],
  ])('with a show of two parts, reads the rest as a named season and an episode: %s', (title, expected) => {
    expect(decomposeTitle(title, 2)).toEqual(expected);
  });

  it.each([
    'Inception',
    'Star Wars: The Rise of Skywalker',
    'Mission: Impossible',
    'Mission: Impossible - Fallout',
    'Kill Bill: Vol. 1',
    'Harry Potter and the Deathly Hallows: Part 1',
    'Black Mirror: Bandersnatch',
    'Re:Zero',
  ])('leaves a film (or an ambiguous two-part title) whole: %s', (title) => {
    expect(decomposeTitle(title)).toEqual(film(title));
  });

  it.each([
    'Naruto Shippuden: The Movie: The Lost Tower',
    'Star Wars: Episode VIII: The Last Jedi',
    'The Twilight Saga: Breaking Dawn: Part 1',
  ])('takes a film of three parts for a series by its text alone (the catalogue corrects it, see matching.test.ts): %s', (title) => {
    expect(decomposeTitle(title).kind).toBe('series');
  });

  it('keeps colons inside words and recognizes a season after a colon-bearing show name', () => {
    expect(decomposeTitle('Re:Zero − Starting Life in Another World: Season 1: Ep 1')).toEqual(series('Re:Zero − Starting Life in Another World', 'Season 1', 'Ep 1'));
  });

  it('normalizes non-breaking spaces, zero-width characters and full-width forms', () => {
    expect(decomposeTitle('Brooklyn\u00a0Nine-Nine: Season\u00a01:\u00a0Pilot')).toEqual(series('Brooklyn Nine-Nine', 'Season 1', 'Pilot'));
    expect(decomposeTitle('Dead\u200b to Me: Season 1: Pilot')).toEqual(series('Dead to Me', 'Season 1', 'Pilot'));
    expect(decomposeTitle('Ｌｕｃｉｆｅｒ：Ｓｅａｓｏｎ １：Ｐｉｌｏｔ')).toEqual(series('Lucifer', 'Season 1', 'Pilot'));
    expect(decomposeTitle('  The   Crown:  Season 1:  Wolferton Splash  ')).toEqual(series('The Crown', 'Season 1', 'Wolferton Splash'));
  });

  it('cleanText leaves plain titles alone and folds the odd ones', () => {
    expect(cleanText('Lucifer')).toBe('Lucifer');
    expect(cleanText('\ufeffＡＢＣ\u3000def\u00ad')).toBe('ABC def');
  });

  it('decomposes the real Danish export consistently', () => {
    const rows = Papa.parse<string[]>(readFileSync(REAL_EXPORT, 'utf8'), { skipEmptyLines: true }).data.slice(1);
    const titles = rows.map((r) => r[0]).filter((t) => t.trim() !== '');
    const decomposed = titles.map((t) => ({ title: t, ...decomposeTitle(t) }));
    // Every "Show: Sæson N: Episode" row is a series of that show.
    const withSeason = decomposed.filter((d) => /: Sæson \d+: /.test(d.title));
    expect(withSeason.length).toBeGreaterThan(2000);
    for (const d of withSeason) {
      expect(d.kind).toBe('series');
      expect(d.season).toMatch(/^Sæson \d+$/);
      expect(d.title.startsWith(`${d.show}: ${d.season}: `)).toBe(true);
    }
    expect(decomposeTitle('Lucifer: Sæson 5: Spoiler Alert')).toEqual(series('Lucifer', 'Sæson 5', 'Spoiler Alert'));
    expect(decomposeTitle('Venner: Sæson 7: The One with Chandler and Monica\'s Wedding: Del 2')).toEqual(
      series('Venner', 'Sæson 7', "The One with Chandler and Monica's Wedding: Del 2"),
    );
    // Single-part titles there are films.
    const singles = decomposed.filter((d) => !d.title.includes(': '));
    expect(singles.length).toBeGreaterThan(100);
    expect(singles.every((d) => d.kind === 'film' && d.show === cleanText(d.title))).toBe(true);
  });
});

describe('parseSeason', () => {
  it.each([
    ['Sæson 5', 5, 'da'],
    ['Season 12', 12, 'en'],
    ['Series 22', 22, 'en'],
    ['Season Two', 2, 'en'],
    ['3rd Season', 3, 'en'],
    ['Series IV', 4, 'en'],
    ['Season 1 (Trailer)', 1, 'en'],
    ['Temporada 3', 3, 'es'],
    ['Staffel 2', 2, 'de'],
    ['Saison 2', 2, 'fr'],
    ['Sezon 1', 1, 'pl'],
    ['2. évad', 2, 'hu'],
    ['Сезон 1', 1, 'ru'],
    ['シーズン2', 2, 'ja'],
    ['시즌 1', 1, 'ko'],
    ['第2季', 2, 'zh'],
    ['Série 1', 1, null],
    ['Limited Series', 1, null],
    ['Miniserie', 1, null],
  ])('%s -> season %i, language %s', (label, number, language) => {
    expect(parseSeason(label)).toEqual({ number, language });
  });

  it.each(['Part 2', 'Del 3', 'Book 1', 'Murder House', 'Stranger Things 3', 'Luftens sidste mester – bog 1', ''])('is null for what is not a season: %s', (label) => {
    expect(parseSeason(label)).toBeNull();
  });

  it('is null without a label', () => {
    expect(parseSeason(null)).toBeNull();
  });
});
