package qdrantstore_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/qdrantstore"
	"github.com/quarry-kb/quarry/index/qdrantstore/qdranttest"
	"google.golang.org/grpc/codes"
)

var (
	dense3    = index.Space{Embedder: "test-dense", Dim: 3}
	dense3Dot = index.Space{Embedder: "test-dense", Dim: 3, Distance: "dot"}
	sparse50  = index.Space{Embedder: "test-sparse", Dim: 50, Sparse: true}
	sparseIDF = index.Space{Embedder: "test-sparse", Dim: 50, Sparse: true, IDF: true}
)

// TestNewCreatesCollection checks the collection New lays out for each
// kind of space: named vector, distance, modifier, payload indexes and
// the recorded space.
func TestNewCreatesCollection(t *testing.T) {
	_, addr := startFake(t)
	raw := rawClient(t, addr)
	for _, tc := range []struct {
		name      string
		space     index.Space
		wantSpace string // the quarry_space metadata
	}{
		{"dense cosine", dense3, `{"embedder":"test-dense","dim":3,"distance":"cosine"}`},
		{"dense dot", dense3Dot, `{"embedder":"test-dense","dim":3,"distance":"dot"}`},
		{"sparse", sparse50, `{"embedder":"test-sparse","dim":50,"sparse":true}`},
		{"sparse idf", sparseIDF, `{"embedder":"test-sparse","dim":50,"sparse":true,"idf":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t, addr, tc.space)
			info, err := raw.GetCollectionInfo(context.Background(), st.Collection())
			if err != nil {
				t.Fatal(err)
			}
			params := info.GetConfig().GetParams()
			if tc.space.Sparse {
				sp, ok := params.GetSparseVectorsConfig().GetMap()[qdrantstore.SparseVectorName]
				if !ok {
					t.Fatalf("no sparse vector %q in %v", qdrantstore.SparseVectorName, params)
				}
				wantMod := qdrant.Modifier_None
				if tc.space.IDF {
					wantMod = qdrant.Modifier_Idf
				}
				if sp.GetModifier() != wantMod {
					t.Errorf("modifier = %v, want %v", sp.GetModifier(), wantMod)
				}
				if params.GetVectorsConfig() != nil {
					t.Errorf("sparse collection has dense vectors: %v", params.GetVectorsConfig())
				}
			} else {
				vp, ok := params.GetVectorsConfig().GetParamsMap().GetMap()[qdrantstore.DenseVectorName]
				if !ok {
					t.Fatalf("no dense vector %q in %v", qdrantstore.DenseVectorName, params)
				}
				wantDist := qdrant.Distance_Cosine
				if tc.space.Distance == "dot" {
					wantDist = qdrant.Distance_Dot
				}
				if vp.GetSize() != 3 || vp.GetDistance() != wantDist {
					t.Errorf("dense vector = size %d %v, want size 3 %v", vp.GetSize(), vp.GetDistance(), wantDist)
				}
			}
			if got := info.GetConfig().GetMetadata()["quarry_space"].GetStringValue(); got != tc.wantSpace {
				t.Errorf("quarry_space metadata = %s, want %s", got, tc.wantSpace)
			}
			for _, field := range []string{"doc_id", "lang"} {
				if typ := info.GetPayloadSchema()[field].GetDataType(); typ != qdrant.PayloadSchemaType_Keyword {
					t.Errorf("payload index on %s = %v, want keyword", field, typ)
				}
			}
		})
	}
}

func TestNewReopensSameSpace(t *testing.T) {
	_, addr := startFake(t)
	cfg := testConfig(t, addr, uniqueName("reopen"), dense3)
	first := openConfig(t, cfg)
	if err := first.Upsert(context.Background(), []index.Record{denseRec("a", 0, 1, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	first.Close()
	// Distance "" and "cosine" are the same space.
	cfg.Space.Distance = "cosine"
	second := openConfig(t, cfg)
	if n, err := second.Count(context.Background()); err != nil || n != 1 {
		t.Fatalf("Count after reopening = %d, %v; want 1", n, err)
	}
}

// TestSpaceMismatch opens a collection made for one space with another:
// ErrConflict, naming both spaces.
func TestSpaceMismatch(t *testing.T) {
	_, addr := startFake(t)
	for _, tc := range []struct {
		name        string
		made, asked index.Space
	}{
		{"other embedder", dense3, index.Space{Embedder: "other-model", Dim: 3}},
		{"other dim", dense3, index.Space{Embedder: "test-dense", Dim: 4}},
		{"other distance", dense3, dense3Dot},
		{"dense vs sparse", dense3, index.Space{Embedder: "test-dense", Dim: 3, Sparse: true}},
		{"sparse vs dense", sparse50, index.Space{Embedder: "test-sparse", Dim: 50}},
		{"idf vs plain", sparseIDF, sparse50},
		{"plain vs idf", sparse50, sparseIDF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, addr, uniqueName("mismatch"), tc.made)
			openConfig(t, cfg)
			cfg.Space = tc.asked
			st, err := qdrantstore.New(context.Background(), cfg)
			if err == nil {
				st.Close()
				t.Fatal("New with another space: no error")
			}
			wantCode(t, "New", err, quarry.ErrConflict)
			for _, sp := range []index.Space{tc.made, tc.asked} {
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", sp.Embedder)) || !strings.Contains(err.Error(), fmt.Sprint(sp.Dim)) {
					t.Errorf("error %q does not name space %+v", err, sp)
				}
			}
		})
	}
}

// TestCollectionWithoutMetadata opens collections made by hand (or by an
// older Quarry): a fitting layout is adopted and its space recorded; a
// layout that does not fit is a conflict.
func TestCollectionWithoutMetadata(t *testing.T) {
	_, addr := startFake(t)
	raw := rawClient(t, addr)
	ctx := context.Background()

	fits := uniqueName("byhand")
	if err := raw.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: fits,
		VectorsConfig: qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{
			"dense": {Size: 3, Distance: qdrant.Distance_Cosine},
		}),
	}); err != nil {
		t.Fatal(err)
	}
	openConfig(t, testConfig(t, addr, fits, dense3)).Close()
	info, err := raw.GetCollectionInfo(ctx, fits)
	if err != nil {
		t.Fatal(err)
	}
	if info.GetConfig().GetMetadata()["quarry_space"] == nil {
		t.Error("space not recorded in an adopted collection")
	}
	if info.GetPayloadSchema()["doc_id"] == nil {
		t.Error("no doc_id index on an adopted collection")
	}
	// Now recorded, the embedder is checked too.
	_, err = qdrantstore.New(ctx, testConfig(t, addr, fits, index.Space{Embedder: "other", Dim: 3}))
	wantCode(t, "New with another embedder", err, quarry.ErrConflict)

	unnamed := uniqueName("byhand")
	if err := raw.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: unnamed,
		VectorsConfig:  qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 3, Distance: qdrant.Distance_Cosine}),
	}); err != nil {
		t.Fatal(err)
	}
	_, err = qdrantstore.New(ctx, testConfig(t, addr, unnamed, dense3))
	wantCode(t, "New on an unnamed-vector collection", err, quarry.ErrConflict)
}

func TestNewNoCreate(t *testing.T) {
	_, addr := startFake(t)
	cfg := testConfig(t, addr, uniqueName("missing"), dense3)
	cfg.NoCreate = true
	_, err := qdrantstore.New(context.Background(), cfg)
	wantCode(t, "New(NoCreate) of a missing collection", err, quarry.ErrNotFound)
	names, err := openConfig(t, testConfig(t, addr, uniqueName("other"), dense3)).ListCollections(context.Background(), cfg.Collection)
	if err != nil || len(names) != 0 {
		t.Fatalf("NoCreate created %v (%v)", names, err)
	}
}

func TestNewInvalidConfig(t *testing.T) {
	_, addr := startFake(t)
	for _, tc := range []struct {
		name   string
		mutate func(*qdrantstore.Config)
	}{
		{"no collection", func(c *qdrantstore.Config) { c.Collection = "" }},
		{"zero dim", func(c *qdrantstore.Config) { c.Space.Dim = 0 }},
		{"idf on dense", func(c *qdrantstore.Config) { c.Space.IDF = true }},
		{"unknown distance", func(c *qdrantstore.Config) { c.Space.Distance = "euclid" }},
		{"cosine sparse", func(c *qdrantstore.Config) { c.Space = index.Space{Dim: 5, Sparse: true, Distance: "cosine"} }},
		{"port out of range", func(c *qdrantstore.Config) { c.Port = 70000 }},
		{"collection name qdrant rejects", func(c *qdrantstore.Config) { c.Collection = "a/b" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, addr, uniqueName("invalid"), dense3)
			tc.mutate(&cfg)
			st, err := qdrantstore.New(context.Background(), cfg)
			if err == nil {
				st.Close()
			}
			wantCode(t, "New", err, quarry.ErrInvalid)
		})
	}
}

func TestNewUnreachable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	cfg := testConfig(t, addr, "unreachable", dense3)
	cfg.MaxRetries = 1
	_, err = qdrantstore.New(context.Background(), cfg)
	wantCode(t, "New against a closed port", err, quarry.ErrUnavailable)
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the address %s", err, addr)
	}
}

// TestPointLayout checks what a chunk becomes in Qdrant: a point with a
// UUID derived from the chunk ID and every chunk field in its payload.
func TestPointLayout(t *testing.T) {
	_, addr := startFake(t)
	st := open(t, addr, dense3)
	c := quarry.Chunk{ID: "guide.md#2", DocID: "guide.md", Path: "guide.md", Title: "Guide", Heading: "A > B",
		Page: 4, Ordinal: 2, Text: "hello", Tokens: 1, Lang: "en"}
	if err := st.Upsert(context.Background(), []index.Record{{Chunk: c, Vector: index.Vector{Dense: []float32{0, 3, 4}}}}); err != nil {
		t.Fatal(err)
	}
	pts, err := rawClient(t, addr).Get(context.Background(), &qdrant.GetPoints{
		CollectionName: st.Collection(),
		Ids:            []*qdrant.PointId{qdrant.NewIDUUID(qdrantstore.PointID(c.ID))},
		WithPayload:    qdrant.NewWithPayload(true),
		WithVectors:    qdrant.NewWithVectors(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 1 {
		t.Fatalf("got %d points for PointID(%q), want 1", len(pts), c.ID)
	}
	want := map[string]string{
		"chunk_id": `string_value:"guide.md#2"`, "doc_id": `string_value:"guide.md"`, "path": `string_value:"guide.md"`,
		"title": `string_value:"Guide"`, "heading": `string_value:"A > B"`, "page": `integer_value:4`,
		"ordinal": `integer_value:2`, "text": `string_value:"hello"`, "tokens": `integer_value:1`, "lang": `string_value:"en"`,
	}
	p := pts[0].GetPayload()
	if len(p) != len(want) {
		t.Errorf("payload has %d fields, want %d: %v", len(p), len(want), p)
	}
	for field, w := range want {
		if got := strings.Join(strings.Fields(p[field].String()), " "); got != w {
			t.Errorf("payload %s = %s, want %s", field, got, w)
		}
	}
	v := pts[0].GetVectors().GetVectors().GetVectors()[qdrantstore.DenseVectorName].GetDense().GetData()
	if len(v) != 3 || v[1] != 0.6 || v[2] != 0.8 {
		t.Errorf("stored vector = %v, want the cosine-normalised [0 0.6 0.8]", v)
	}
}

func TestUpsertBatches(t *testing.T) {
	srv, addr := startFake(t)
	cfg := testConfig(t, addr, uniqueName("batches"), dense3)
	cfg.BatchSize = 10
	st := openConfig(t, cfg)
	var recs []index.Record
	for i := range 25 {
		recs = append(recs, denseRec("doc", i, 1, float32(i), 0))
	}
	before := srv.Calls("Upsert")
	if err := st.Upsert(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if got := srv.Calls("Upsert") - before; got != 3 {
		t.Errorf("25 records with BatchSize 10 took %d Upsert calls, want 3", got)
	}
	if n, _ := st.Count(context.Background()); n != 25 {
		t.Errorf("Count = %d, want 25", n)
	}
}

func TestDeleteDocsManyIDs(t *testing.T) {
	srv, addr := startFake(t)
	st := open(t, addr, dense3)
	var recs []index.Record
	var docs []string
	for i := range 600 {
		doc := fmt.Sprintf("doc%03d", i)
		docs = append(docs, doc)
		recs = append(recs, denseRec(doc, 0, 1, float32(i), 0))
	}
	ctx := context.Background()
	if err := st.Upsert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	before := srv.Calls("Delete")
	if err := st.DeleteDocs(ctx, docs[:599]...); err != nil {
		t.Fatal(err)
	}
	if got := srv.Calls("Delete") - before; got != 3 {
		t.Errorf("deleting 599 docs took %d Delete calls, want 3 (256 ids each)", got)
	}
	hits, err := st.Search(ctx, index.Vector{Dense: []float32{1, 1, 1}}, 10, index.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].Chunk.DocID != "doc599" {
		t.Fatalf("after deleting all but doc599: %v", hits)
	}
}

// TestSearchTiesByChunkID: Qdrant orders equal scores by point ID, which
// is a hash; the store orders them by chunk ID.
func TestSearchTiesByChunkID(t *testing.T) {
	_, addr := startFake(t)
	st := open(t, addr, dense3Dot)
	var recs []index.Record
	for _, doc := range []string{"e", "b", "d", "a", "c"} {
		recs = append(recs, denseRec(doc, 0, 1, 1, 1))
	}
	ctx := context.Background()
	if err := st.Upsert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	hits, err := st.Search(ctx, index.Vector{Dense: []float32{1, 0, 0}}, 5, index.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hits {
		got = append(got, h.Chunk.ID)
	}
	if strings.Join(got, " ") != "a#0 b#0 c#0 d#0 e#0" {
		t.Fatalf("tied hits = %v, want chunk ID order", got)
	}
}

func TestZeroCosineQuery(t *testing.T) {
	_, addr := startFake(t)
	st := open(t, addr, dense3)
	_, err := st.Search(context.Background(), index.Vector{Dense: []float32{0, 0, 0}}, 3, index.Filter{})
	wantCode(t, "Search with a zero cosine query", err, quarry.ErrInvalid)
	_, err = st.Search(context.Background(), index.Vector{Dense: []float32{1, 0, 0}}, 0, index.Filter{})
	wantCode(t, "Search with k=0", err, quarry.ErrInvalid)
}

// TestSparseZerosDropped: zero weights neither match nor count for IDF.
func TestSparseZerosDropped(t *testing.T) {
	_, addr := startFake(t)
	st := open(t, addr, sparseIDF)
	ctx := context.Background()
	recs := []index.Record{
		{Chunk: quarry.Chunk{ID: "z#0", DocID: "z"}, Vector: index.Vector{Indices: []uint32{1, 2}, Values: []float32{0, 1}}},
		{Chunk: quarry.Chunk{ID: "y#0", DocID: "y"}, Vector: index.Vector{Indices: []uint32{1}, Values: []float32{2}}},
	}
	if err := st.Upsert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	hits, err := st.Search(ctx, index.Vector{Indices: []uint32{1}, Values: []float32{1}}, 5, index.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	// N = 2, n = 1 (z's zero does not count): idf = ln(1 + 1.5/1.5) = ln 2.
	if len(hits) != 1 || hits[0].Chunk.ID != "y#0" || fmt.Sprintf("%.5f", hits[0].Score) != "1.38629" {
		t.Fatalf("hits = %+v, want only y#0 scoring 2·ln2", hits)
	}
	hits, err = st.Search(ctx, index.Vector{Indices: []uint32{2, 1}, Values: []float32{0, 0}}, 5, index.Filter{})
	if err != nil || len(hits) != 0 {
		t.Fatalf("an all-zero query returned %v, %v", hits, err)
	}
}

// TestRetries injects failures that may pass and checks that the store
// retries them and then succeeds.
func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		inject func(srv *qdranttest.Server, method string)
	}{
		{"unavailable upsert", "Upsert", func(s *qdranttest.Server, m string) { s.FailNext(m, 2, codes.Unavailable) }},
		{"overloaded query", "Query", func(s *qdranttest.Server, m string) { s.FailNext(m, 3, codes.ResourceExhausted) }},
		{"slow count", "Count", func(s *qdranttest.Server, m string) { s.Block(m, 1) }},
		{"unavailable delete", "Delete", func(s *qdranttest.Server, m string) { s.FailNext(m, 1, codes.Unavailable) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := startFake(t)
			cfg := testConfig(t, addr, uniqueName("retry"), dense3)
			cfg.Timeout = 100 * time.Millisecond // a blocked call fails, then the retry succeeds
			st := openConfig(t, cfg)
			ctx := context.Background()
			if err := st.Upsert(ctx, []index.Record{denseRec("a", 0, 1, 0, 0)}); err != nil {
				t.Fatal(err)
			}
			before := srv.Calls(tc.method)
			tc.inject(srv, tc.method)
			var err error
			switch tc.method {
			case "Upsert":
				err = st.Upsert(ctx, []index.Record{denseRec("b", 0, 0, 1, 0)})
			case "Query":
				_, err = st.Search(ctx, index.Vector{Dense: []float32{1, 0, 0}}, 1, index.Filter{})
			case "Count":
				_, err = st.Count(ctx)
			case "Delete":
				err = st.DeleteDocs(ctx, "a")
			}
			if err != nil {
				t.Fatalf("%s after transient failures: %v", tc.method, err)
			}
			if got := srv.Calls(tc.method) - before; got < 2 {
				t.Fatalf("%s was called %d times, want a retry", tc.method, got)
			}
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	srv, addr := startFake(t)
	cfg := testConfig(t, addr, uniqueName("exhausted"), dense3)
	cfg.MaxRetries = 2
	st := openConfig(t, cfg)
	srv.FailNext("Query", 100, codes.Unavailable)
	before := srv.Calls("Query")
	_, err := st.Search(context.Background(), index.Vector{Dense: []float32{1, 0, 0}}, 1, index.Filter{})
	wantCode(t, "Search while unavailable", err, quarry.ErrUnavailable)
	if got := srv.Calls("Query") - before; got != 3 {
		t.Errorf("Query called %d times with MaxRetries 2, want 3", got)
	}
}

func TestNoRetryOnPermanentErrors(t *testing.T) {
	for _, tc := range []struct {
		code codes.Code
		want *quarry.Error
	}{
		{codes.InvalidArgument, quarry.ErrInvalid},
		{codes.NotFound, quarry.ErrNotFound},
		{codes.Internal, quarry.ErrInternal},
		{codes.PermissionDenied, quarry.ErrUnavailable},
	} {
		t.Run(tc.code.String(), func(t *testing.T) {
			srv, addr := startFake(t)
			st := open(t, addr, dense3)
			srv.FailNext("Upsert", 1, tc.code)
			before := srv.Calls("Upsert")
			err := st.Upsert(context.Background(), []index.Record{denseRec("a", 0, 1, 0, 0)})
			wantCode(t, "Upsert", err, tc.want)
			if got := srv.Calls("Upsert") - before; got != 1 {
				t.Errorf("Upsert called %d times after %v, want 1 (no retry)", got, tc.code)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	srv, addr := startFake(t)
	cfg := testConfig(t, addr, uniqueName("timeout"), dense3)
	// The per-call timeout also bounds New's own calls (create the
	// collection, index payload fields), which must succeed on a loaded
	// machine: the blocked Count below never answers, so any bound works.
	cfg.Timeout = 500 * time.Millisecond
	cfg.MaxRetries = -1
	st := openConfig(t, cfg)
	srv.Block("Count", 1)
	_, err := st.Count(context.Background())
	wantCode(t, "Count against a server that does not answer", err, quarry.ErrTimeout)

	// The caller's own deadline is a timeout too, and is not retried.
	srv.Block("Count", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = st.Count(ctx)
	wantCode(t, "Count past the caller's deadline", err, quarry.ErrTimeout)
}

func TestAPIKey(t *testing.T) {
	srv, addr := startFake(t)
	srv.RequireAPIKey("s3cret")
	cfg := testConfig(t, addr, uniqueName("apikey"), dense3)
	_, err := qdrantstore.New(context.Background(), cfg)
	wantCode(t, "New without the API key", err, quarry.ErrUnavailable)
	if !strings.Contains(err.Error(), "API key") {
		t.Errorf("error %q does not mention the API key", err)
	}
	cfg.APIKey = "s3cret"
	st := openConfig(t, cfg)
	if _, err := st.Count(context.Background()); err != nil {
		t.Fatalf("Count with the API key: %v", err)
	}
}

func TestClosed(t *testing.T) {
	_, addr := startFake(t)
	st := open(t, addr, dense3)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	_, err := st.Search(ctx, index.Vector{Dense: []float32{1, 0, 0}}, 1, index.Filter{})
	wantCode(t, "Search after Close", err, quarry.ErrUnavailable)
	wantCode(t, "Upsert after Close", st.Upsert(ctx, []index.Record{denseRec("a", 0, 1, 0, 0)}), quarry.ErrUnavailable)
	wantCode(t, "SwitchAlias after Close", st.SwitchAlias(ctx, "x", "y"), quarry.ErrUnavailable)
}

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		in       string
		host     string
		port     int
		wantFail bool
	}{
		{in: "localhost:6334", host: "localhost", port: 6334},
		{in: "qdrant.internal", host: "qdrant.internal", port: 6334},
		{in: "[::1]:7000", host: "::1", port: 7000},
		{in: "10.0.0.5:1", host: "10.0.0.5", port: 1},
		{in: "", wantFail: true},
		{in: ":6334", wantFail: true},
		{in: "host:http", wantFail: true},
		{in: "host:0", wantFail: true},
		{in: "host:65536", wantFail: true},
		{in: "a:b:c", wantFail: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			host, port, err := qdrantstore.ParseAddr(tc.in)
			if tc.wantFail {
				wantCode(t, "ParseAddr", err, quarry.ErrInvalid)
				return
			}
			if err != nil || host != tc.host || port != tc.port {
				t.Fatalf("ParseAddr(%q) = %q, %d, %v; want %q, %d", tc.in, host, port, err, tc.host, tc.port)
			}
		})
	}
}

// TestPointIDGolden pins the chunk ID → point ID mapping: changing it
// would orphan every point already stored.
func TestPointIDGolden(t *testing.T) {
	for chunkID, want := range map[string]string{
		"guide.md#0": "8eac54cf-7382-5282-8476-1ddd55b78ed3",
		"指南.md#12":   "66709700-4afe-56a9-9a1c-ede9cf2f3399",
	} {
		if got := qdrantstore.PointID(chunkID); got != want {
			t.Errorf("PointID(%q) = %s, want %s", chunkID, got, want)
		}
	}
}
