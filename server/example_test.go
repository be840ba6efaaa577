package server_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/server"
)

// fixedSearcher stands in for the hybrid retriever.
type fixedSearcher []quarry.Passage

func (f fixedSearcher) Search(context.Context, quarry.SearchRequest) (quarry.SearchResult, error) {
	return quarry.SearchResult{Passages: f}, nil
}

// A Live backend lets an index rebuilt in the background replace the one
// being served, without a restart: the next request sees the new one.
func Example() {
	live := server.NewLive(server.Backend{Searcher: fixedSearcher{
		{Chunk: quarry.Chunk{ID: "a#0", DocID: "a", Path: "a.md", Title: "A", Text: "old index"}, Score: 1},
	}})
	s, err := server.New(server.Config{Resolve: live.Resolve})
	if err != nil {
		panic(err)
	}
	search := func() {
		r := httptest.NewRequest("POST", "/v1/search", strings.NewReader(`{"query":"index"}`))
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		fmt.Print(w.Code, " ", w.Body)
	}

	search()
	live.Swap(server.Backend{Searcher: fixedSearcher{
		{Chunk: quarry.Chunk{ID: "a#0", DocID: "a", Path: "a.md", Title: "A", Page: 2, Text: "new index"}, Score: 0.5},
	}})
	search()

	r := httptest.NewRequest("POST", "/v1/search", strings.NewReader(`{"query":""}`))
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body)
	// Output:
	// 200 {"results":[{"doc_id":"a","chunk_id":"a#0","path":"a.md","title":"A","heading":"","page":0,"text":"old index","score":1}]}
	// 200 {"results":[{"doc_id":"a","chunk_id":"a#0","path":"a.md","title":"A","heading":"","page":2,"text":"new index","score":0.5}]}
	// 400 {"error":{"code":"invalid","message":"field \"query\" is required and must not be blank"}}
}
