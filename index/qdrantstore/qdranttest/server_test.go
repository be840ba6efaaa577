package qdranttest_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"github.com/quarry-kb/quarry/index/qdrantstore/qdranttest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func client(t *testing.T, addr string, apiKey string) *qdrant.Client {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(p)
	c, err := qdrant.NewClient(&qdrant.Config{Host: host, Port: port, APIKey: apiKey, SkipCompatibilityCheck: true, PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func wantStatus(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if st, _ := status.FromError(err); err == nil || st.Code() != want {
		t.Fatalf("%s: error %v, want status %v", what, err, want)
	}
}

var ctx = context.Background()

// newCollection makes a collection with a 2-d cosine "d", a 2-d dot
// "dot", a plain sparse "s" and an IDF sparse "idf".
func newCollection(t *testing.T, c *qdrant.Client, name string) {
	t.Helper()
	err := c.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: name,
		VectorsConfig: qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{
			"d":   {Size: 2, Distance: qdrant.Distance_Cosine},
			"dot": {Size: 2, Distance: qdrant.Distance_Dot},
			"euc": {Size: 2, Distance: qdrant.Distance_Euclid},
		}),
		SparseVectorsConfig: qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{
			"s":   {},
			"idf": {Modifier: qdrant.Modifier_Idf.Enum()},
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
}

func pt(id uint64, payload map[string]any, vecs map[string]*qdrant.Vector) *qdrant.PointStruct {
	return &qdrant.PointStruct{Id: qdrant.NewIDNum(id), Payload: qdrant.NewValueMap(payload), Vectors: qdrant.NewVectorsMap(vecs)}
}

func upsert(t *testing.T, c *qdrant.Client, col string, pts ...*qdrant.PointStruct) {
	t.Helper()
	if _, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: col, Wait: qdrant.PtrOf(true), Points: pts}); err != nil {
		t.Fatal(err)
	}
}

func ids(pts []*qdrant.ScoredPoint) string {
	var out []uint64
	for _, p := range pts {
		out = append(out, p.GetId().GetNum())
	}
	return fmt.Sprint(out)
}

func TestBadInputStatuses(t *testing.T) {
	addr := qdranttest.Start(t)
	c := client(t, addr, "")
	newCollection(t, c, "col")
	for _, tc := range []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"create twice", func() error {
			return c.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: "col"})
		}, codes.AlreadyExists},
		{"create with bad name", func() error {
			return c.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: "a/b"})
		}, codes.InvalidArgument},
		{"create with size 0", func() error {
			return c.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: "z",
				VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 0, Distance: qdrant.Distance_Dot})})
		}, codes.InvalidArgument},
		{"get missing", func() error { _, err := c.GetCollectionInfo(ctx, "nope"); return err }, codes.NotFound},
		{"upsert into missing", func() error {
			_, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "nope", Points: []*qdrant.PointStruct{pt(1, nil, nil)}})
			return err
		}, codes.NotFound},
		{"wrong dimension", func() error {
			_, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "col",
				Points: []*qdrant.PointStruct{pt(1, nil, map[string]*qdrant.Vector{"d": qdrant.NewVectorDense([]float32{1, 2, 3})})}})
			return err
		}, codes.InvalidArgument},
		{"unknown vector name", func() error {
			_, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "col",
				Points: []*qdrant.PointStruct{pt(1, nil, map[string]*qdrant.Vector{"x": qdrant.NewVectorDense([]float32{1, 2})})}})
			return err
		}, codes.InvalidArgument},
		{"sparse into dense", func() error {
			_, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "col",
				Points: []*qdrant.PointStruct{pt(1, nil, map[string]*qdrant.Vector{"d": qdrant.NewVectorSparse([]uint32{1}, []float32{1})})}})
			return err
		}, codes.InvalidArgument},
		{"duplicate sparse index", func() error {
			_, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "col",
				Points: []*qdrant.PointStruct{pt(1, nil, map[string]*qdrant.Vector{"s": qdrant.NewVectorSparse([]uint32{1, 1}, []float32{1, 2})})}})
			return err
		}, codes.InvalidArgument},
		{"bad uuid", func() error {
			_, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "col",
				Points: []*qdrant.PointStruct{{Id: qdrant.NewIDUUID("not-a-uuid")}}})
			return err
		}, codes.InvalidArgument},
		{"query wrong dimension", func() error {
			_, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "col", Query: qdrant.NewQueryDense([]float32{1}), Using: qdrant.PtrOf("d")})
			return err
		}, codes.InvalidArgument},
		{"query limit 0", func() error {
			_, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "col", Query: qdrant.NewQueryDense([]float32{1, 0}), Using: qdrant.PtrOf("d"), Limit: qdrant.PtrOf(uint64(0))})
			return err
		}, codes.InvalidArgument},
		{"prefetch", func() error {
			_, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "col", Prefetch: []*qdrant.PrefetchQuery{{}}})
			return err
		}, codes.Unimplemented},
		{"full-text match", func() error {
			_, err := c.Count(ctx, &qdrant.CountPoints{CollectionName: "col", Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchText("t", "x")}}})
			if err == nil { // an empty collection never evaluates the filter
				upsert(t, c, "col", pt(9, map[string]any{"t": "x"}, nil))
				_, err = c.Count(ctx, &qdrant.CountPoints{CollectionName: "col", Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchText("t", "x")}}})
			}
			return err
		}, codes.Unimplemented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, tc.name, tc.call(), tc.want)
		})
	}
}

// TestBadBatchChangesNothing: one bad point fails the whole upsert.
func TestBadBatchChangesNothing(t *testing.T) {
	addr := qdranttest.Start(t)
	c := client(t, addr, "")
	newCollection(t, c, "col")
	_, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "col", Points: []*qdrant.PointStruct{
		pt(1, nil, map[string]*qdrant.Vector{"d": qdrant.NewVectorDense([]float32{1, 0})}),
		pt(2, nil, map[string]*qdrant.Vector{"d": qdrant.NewVectorDense([]float32{1})}),
	}})
	wantStatus(t, "upsert", err, codes.InvalidArgument)
	if n, err := c.Count(ctx, &qdrant.CountPoints{CollectionName: "col"}); err != nil || n != 0 {
		t.Fatalf("count after a rejected batch = %d, %v", n, err)
	}
}

func TestScoring(t *testing.T) {
	addr := qdranttest.Start(t)
	c := client(t, addr, "")
	newCollection(t, c, "col")
	dv := func(x, y float32) *qdrant.Vector { return qdrant.NewVectorDense([]float32{x, y}) }
	sv := func(idx []uint32, vals []float32) *qdrant.Vector { return qdrant.NewVectorSparse(idx, vals) }
	upsert(t, c, "col",
		pt(1, nil, map[string]*qdrant.Vector{"d": dv(3, 4), "dot": dv(3, 4), "euc": dv(3, 4), "s": sv([]uint32{1}, []float32{2}), "idf": sv([]uint32{1}, []float32{2})}),
		pt(2, nil, map[string]*qdrant.Vector{"d": dv(1, 0), "dot": dv(1, 0), "euc": dv(1, 0), "s": sv([]uint32{2, 1}, []float32{1, 1}), "idf": sv([]uint32{2, 1}, []float32{1, 1})}),
		pt(3, nil, map[string]*qdrant.Vector{"d": dv(0, 1), "dot": dv(0, 1), "euc": dv(0, 1), "s": sv([]uint32{3}, []float32{5}), "idf": sv([]uint32{3}, []float32{5})}),
	)
	idf := func(n, N float64) float64 { return math.Log(1 + (N-n+0.5)/(n+0.5)) }
	for _, tc := range []struct {
		name   string
		using  string
		query  *qdrant.Query
		order  string
		scores []float64
	}{
		{"cosine", "d", qdrant.NewQueryDense([]float32{2, 0}), "[2 1 3]", []float64{1, 0.6, 0}},
		{"dot", "dot", qdrant.NewQueryDense([]float32{2, 0}), "[1 2 3]", []float64{6, 2, 0}},
		{"euclid", "euc", qdrant.NewQueryDense([]float32{1, 0}), "[2 3 1]", []float64{0, math.Sqrt2, math.Sqrt(20)}},
		// Only points sharing an index are found.
		{"sparse", "s", qdrant.NewQuerySparse([]uint32{1, 2}, []float32{1, 3}), "[2 1]", []float64{4, 2}},
		// Index 1: n=2 of N=3; index 2: n=1.
		{"sparse idf", "idf", qdrant.NewQuerySparse([]uint32{2, 1}, []float32{3, 1}), "[2 1]",
			[]float64{1*idf(2, 3) + 3*idf(1, 3), 2 * idf(2, 3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "col", Query: tc.query, Using: qdrant.PtrOf(tc.using)})
			if err != nil {
				t.Fatal(err)
			}
			if ids(res) != tc.order {
				t.Fatalf("order %s, want %s", ids(res), tc.order)
			}
			for i, p := range res {
				if math.Abs(float64(p.GetScore())-tc.scores[i]) > 1e-5 {
					t.Errorf("score of %d = %v, want %v", p.GetId().GetNum(), p.GetScore(), tc.scores[i])
				}
			}
		})
	}
	// The legacy Search API scores the same way.
	res, err := c.GetPointsClient().Search(ctx, &qdrant.SearchPoints{CollectionName: "col", Vector: []float32{1, 3},
		SparseIndices: &qdrant.SparseIndices{Data: []uint32{1, 2}}, VectorName: qdrant.PtrOf("s"), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if ids(res.GetResult()) != "[2 1]" {
		t.Fatalf("Search order %s, want [2 1]", ids(res.GetResult()))
	}
}

func TestFilters(t *testing.T) {
	addr := qdranttest.Start(t)
	c := client(t, addr, "")
	newCollection(t, c, "col")
	upsert(t, c, "col",
		pt(1, map[string]any{"doc": "a", "lang": "en", "n": 1, "tags": []any{"x", "y"}}, nil),
		pt(2, map[string]any{"doc": "b", "lang": "zh", "n": 2, "tags": []any{"y"}}, nil),
		pt(3, map[string]any{"doc": "c", "lang": "en", "n": 3}, nil),
	)
	for _, tc := range []struct {
		name   string
		filter *qdrant.Filter
		want   uint64
	}{
		{"none", nil, 3},
		{"keyword", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatch("lang", "en")}}, 2},
		{"any", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeywords("doc", "a", "b", "z")}}, 2},
		{"array field", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatch("tags", "y")}}, 2},
		{"except", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchExcept("doc", "a")}}, 2},
		{"must and", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatch("lang", "en"), qdrant.NewMatchKeywords("doc", "a", "b")}}, 1},
		{"should", &qdrant.Filter{Should: []*qdrant.Condition{qdrant.NewMatch("doc", "a"), qdrant.NewMatch("doc", "b")}}, 2},
		{"must not", &qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewMatch("lang", "zh")}}, 2},
		{"min should", &qdrant.Filter{MinShould: &qdrant.MinShould{MinCount: 2, Conditions: []*qdrant.Condition{
			qdrant.NewMatch("lang", "en"), qdrant.NewMatch("tags", "x"), qdrant.NewMatchInt("n", 3)}}}, 2},
		{"integer", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchInt("n", 2)}}, 1},
		{"range", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewRange("n", &qdrant.Range{Gte: qdrant.PtrOf(2.0)})}}, 2},
		{"is empty", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewIsEmpty("tags")}}, 1},
		{"has id", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewHasID(qdrant.NewIDNum(1), qdrant.NewIDNum(3))}}, 2},
		{"nested filter", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewFilterAsCondition(
			&qdrant.Filter{Should: []*qdrant.Condition{qdrant.NewMatch("doc", "c")}})}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := c.Count(ctx, &qdrant.CountPoints{CollectionName: "col", Filter: tc.filter})
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.want {
				t.Fatalf("count = %d, want %d", n, tc.want)
			}
		})
	}
	// Delete by filter.
	if _, err := c.Delete(ctx, &qdrant.DeletePoints{CollectionName: "col", Wait: qdrant.PtrOf(true),
		Points: qdrant.NewPointsSelectorFilter(&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatch("lang", "en")}})}); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Count(ctx, &qdrant.CountPoints{CollectionName: "col"}); n != 1 {
		t.Fatalf("count after deleting lang=en = %d, want 1", n)
	}
}

func TestScrollAndGet(t *testing.T) {
	addr := qdranttest.Start(t)
	c := client(t, addr, "")
	newCollection(t, c, "col")
	for i := range 5 {
		upsert(t, c, "col", pt(uint64(10-i), map[string]any{"i": i}, nil))
	}
	var seen []uint64
	var offset *qdrant.PointId
	for pages := 0; ; pages++ {
		res, next, err := c.ScrollAndOffset(ctx, &qdrant.ScrollPoints{CollectionName: "col", Limit: qdrant.PtrOf(uint32(2)), Offset: offset})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res {
			seen = append(seen, p.GetId().GetNum())
		}
		if next == nil {
			break
		}
		offset = next
		if pages > 5 {
			t.Fatal("scroll does not end")
		}
	}
	if fmt.Sprint(seen) != "[6 7 8 9 10]" {
		t.Fatalf("scrolled %v, want ids in order", seen)
	}
	got, err := c.Get(ctx, &qdrant.GetPoints{CollectionName: "col", Ids: []*qdrant.PointId{qdrant.NewIDNum(8), qdrant.NewIDNum(99)}})
	if err != nil || len(got) != 1 || got[0].GetPayload()["i"].GetIntegerValue() != 2 {
		t.Fatalf("Get(8, 99) = %v, %v", got, err)
	}
}

func TestAliases(t *testing.T) {
	addr := qdranttest.Start(t)
	c := client(t, addr, "")
	newCollection(t, c, "g1")
	newCollection(t, c, "g2")
	if err := c.CreateAlias(ctx, "kb", "g1"); err != nil {
		t.Fatal(err)
	}
	upsert(t, c, "kb", pt(1, nil, nil)) // writes through the alias land in g1
	if n, _ := c.Count(ctx, &qdrant.CountPoints{CollectionName: "g1"}); n != 1 {
		t.Fatalf("g1 has %d points after a write through its alias", n)
	}
	// An action list that fails halfway changes nothing.
	err := c.UpdateAliases(ctx, []*qdrant.AliasOperations{qdrant.NewAliasDelete("kb"), qdrant.NewAliasCreate("kb", "missing")})
	wantStatus(t, "switch to a missing collection", err, codes.NotFound)
	wantStatus(t, "create an existing alias", c.CreateAlias(ctx, "kb", "g2"), codes.AlreadyExists)
	wantStatus(t, "alias named like a collection", c.CreateAlias(ctx, "g2", "g1"), codes.AlreadyExists)
	wantStatus(t, "delete a missing alias", c.DeleteAlias(ctx, "nope"), codes.NotFound)
	aliases, err := c.ListAliases(ctx)
	if err != nil || len(aliases) != 1 || aliases[0].GetCollectionName() != "g1" {
		t.Fatalf("aliases after failed updates = %v, %v", aliases, err)
	}
	if err := c.UpdateAliases(ctx, []*qdrant.AliasOperations{qdrant.NewAliasDelete("kb"), qdrant.NewAliasCreate("kb", "g2")}); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Count(ctx, &qdrant.CountPoints{CollectionName: "kb"}); n != 0 {
		t.Fatalf("kb still reads g1 after the switch")
	}
	if names, _ := c.ListCollectionAliases(ctx, "g2"); fmt.Sprint(names) != "[kb]" {
		t.Fatalf("aliases of g2 = %v", names)
	}
	// Deleting a collection drops its aliases.
	if err := c.DeleteCollection(ctx, "g2"); err != nil {
		t.Fatal(err)
	}
	if aliases, _ := c.ListAliases(ctx); len(aliases) != 0 {
		t.Fatalf("aliases of a deleted collection remain: %v", aliases)
	}
	if exists, _ := c.CollectionExists(ctx, "kb"); exists {
		t.Fatal("the alias of a deleted collection still resolves")
	}
}

func TestFaultsAndAPIKey(t *testing.T) {
	srv := qdranttest.NewServer()
	addr := srv.Start(t)
	c := client(t, addr, "")
	srv.FailNext("List", 2, codes.Unavailable)
	for i := range 2 {
		_, err := c.ListCollections(ctx)
		wantStatus(t, fmt.Sprintf("list %d", i), err, codes.Unavailable)
	}
	if _, err := c.ListCollections(ctx); err != nil {
		t.Fatalf("third list: %v", err)
	}
	if got := srv.Calls("List"); got != 3 {
		t.Fatalf("Calls(List) = %d, want 3", got)
	}
	if got := srv.Calls("/qdrant.Collections/List"); got != 3 {
		t.Fatalf("Calls by full method = %d, want 3", got)
	}

	// A blocked call hangs until its caller gives up.
	srv.Block("HealthCheck", 1)
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err := c.GetQdrantClient().HealthCheck(tctx, &qdrant.HealthCheckRequest{})
	wantStatus(t, "blocked health check", err, codes.DeadlineExceeded)
	if srv.Calls("HealthCheck") != 1 {
		t.Fatal("the blocked health check never reached the server")
	}

	srv.RequireAPIKey("k")
	_, err = c.ListCollections(ctx)
	wantStatus(t, "without the key", err, codes.Unauthenticated)
	if _, err := client(t, addr, "k").ListCollections(ctx); err != nil {
		t.Fatalf("with the key: %v", err)
	}
	reply, err := client(t, addr, "k").HealthCheck(tctx2(t))
	if err != nil || reply.GetVersion() != qdranttest.Version {
		t.Fatalf("health check = %v, %v", reply, err)
	}
}

// tctx2 is a context that ends with the test or after a minute, so that
// a fault left pending fails the test instead of hanging it.
func tctx2(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}
