package kb

import "github.com/quarry-kb/quarry/ingest"

// The sinks that narrow a sync to some sources pass batches on, so a
// knowledge base of several sources is written in batches too.
var _ ingest.BatchSink = filterSink{}
