import { corpus, type CorpusReport } from './corpus.ts';

/** Two stories, each filed several times by wire services: word for word, or with one word changed. */
export const WIRE_STORIES = {
  harbour: 'Dredging of the north harbour berth resumed after pilot boats cleared silt from the shipping channel, the port authority said, adding that larger vessels could dock within weeks once surveyors confirmed the depth.',
  wool: 'Merino fleece prices climbed at the spring wool auction as buyers from three mills bid against each other, brokers said, with the finest lots fetching record bids before shearing ended in the west.',
} as const;

/**
 * {@link corpus}'s 40 reports, plus near-copies of {@link WIRE_STORIES} filed as reports of their own
 * (`wire-harbour-<n>`, `wire-wool-<n>`): the harbour story four times (the fourth says Tuesday once
 * more), the wool story three times (the third with one word changed). Each copy's first paragraph is
 * the story; its second is a line of its own, so a copy's report has more than one paragraph.
 */
export function wireCorpus(): CorpusReport[] {
  const copy = (story: keyof typeof WIRE_STORIES, n: number, text: string, source: string): CorpusReport => ({
    id: `wire-${story}-${n}`, title: `${story} wire ${n}`, text: `${text}\nFiled by desk ${n} of ${source} for the evening bulletin number ${n * 7}.`,
    date: `2025-03-0${n}`, source, tags: [story, 'wire'],
  });
  return [
    ...corpus(40),
    copy('harbour', 1, WIRE_STORIES.harbour, 'Wire Service'),
    copy('harbour', 2, WIRE_STORIES.harbour, 'Coast Gazette'),
    copy('harbour', 3, WIRE_STORIES.harbour, 'Wire Service'),
    copy('harbour', 4, `${WIRE_STORIES.harbour} Work began on Tuesday.`, 'Farm Weekly'),
    copy('wool', 1, WIRE_STORIES.wool, 'Farm Weekly'),
    copy('wool', 2, WIRE_STORIES.wool, 'Wire Service'),
    copy('wool', 3, WIRE_STORIES.wool.replace('record', 'strong'), 'Farm Weekly'),
  ];
}
