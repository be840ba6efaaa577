package main

import "github.com/quarry-kb/quarry/kb"

// Names of the data directory's files, for tests that look inside it.
const (
	vectorsRecordFile = kb.VectorsRecordFile
	vectorsDir        = kb.VectorsDir
	rebuildRecordFile = "rebuild.json"
)

// kbRoot is the default knowledge base's directory in data.
func kbRoot(data string) string { return kb.Root(data, kb.Default) }
