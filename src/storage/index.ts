export { writeFileAtomic, writeFileDurable, fsyncDir } from './atomic.ts';
export { saveSnapshot, loadSnapshot, loadSnapshotAsync, startSnapshotLoad, readCurrent, CURRENT_FILE, MANIFEST_FILE, INDEX_FORMAT_VERSION, type FileChecksum, type Manifest, type SaveOptions, type Snapshot, type SnapshotLoad, type SnapshotLoadOptions } from './snapshot.ts';
export { encodeParagraphs, decodeParagraphs, decodeParagraphsSteps } from './paragraph-store.ts';
export { Journal, journalState, JOURNAL_FILE, type JournalEntry, type JournalPosition, type JournalState, type JournalWrite } from './journal.ts';
