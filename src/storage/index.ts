export { writeFileAtomic, writeFileDurable, fsyncDir } from './atomic.ts';
export { saveSnapshot, loadSnapshot, loadSnapshotAsync, startSnapshotLoad, readCurrent, watchCurrent, CURRENT_FILE, MANIFEST_FILE, INDEX_FORMAT_VERSION, type FileChecksum, type FileContents, type Manifest, type SaveOptions, type Snapshot, type SnapshotLoad, type SnapshotLoadOptions } from './snapshot.ts';
export { encodeParagraphs, decodeParagraphs, decodeParagraphsSteps } from './paragraph-store.ts';
export { Journal, journalState, JOURNAL_FILE, JOURNAL_SCHEMA_VERSION, type JournalEntry, type JournalOptions, type JournalPosition, type JournalReader, type JournalState, type JournalWrite } from './journal.ts';
export { WriterLock, readLockHolder, WRITER_LOCK_FILE, WRITER_LOCK_HOLDER_FILE, type LockHolder, type LockScope, type WriterLockOptions } from './lock.ts';
export { diskFullError, formatBytes, lackOfSpace } from './space.ts';
