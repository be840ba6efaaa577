// Package ingest turns a folder of documents into chunks and keeps an
// index in step with the folder.
//
// The pipeline for one file is: detect the type from the extension
// (TypeOf), parse it into a title and sections of clean text (ParseFile:
// Markdown, HTML, plain text, PDF, Word, PowerPoint, Excel, CSV, and
// images and scanned PDF pages by OCR with Tesseract), cut the sections into token-sized
// chunks (Chunker, cl100k_base tokens counted offline), and hand the
// document with its chunks to a Sink. Sync does this for a whole fs.FS,
// in parallel, incrementally (by content hash), and reports what it did
// in a Summary that names every file it skipped and why.
//
// ingest knows nothing about index backends: it declares Sink, and
// index.Writer satisfies it.
package ingest
