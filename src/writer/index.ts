export { BufferedWriter, type Logger, type RecordSink, type WriterOptions, type WriterStats } from "./buffered-writer.js";
export { SpillJournal } from "./spill-journal.js";
