export { writeFileAtomic, writeFileDurable, fsyncDir } from './atomic.ts';
export { saveSnapshot, loadSnapshot, readCurrent, CURRENT_FILE, MANIFEST_FILE, INDEX_FORMAT_VERSION, type FileChecksum, type Manifest, type SaveOptions, type Snapshot } from './snapshot.ts';
export { encodeParagraphs, decodeParagraphs } from './paragraph-store.ts';
export { Journal, journalState, JOURNAL_FILE, type JournalEntry, type JournalPosition, type JournalState, type JournalWrite } from './journal.ts';
