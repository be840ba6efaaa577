// Package qdranttest is an in-memory, in-process fake of the part of
// Qdrant's gRPC API that Quarry calls: the Collections service (create,
// get, list, update metadata, delete, exists, aliases), the Points service
// (upsert, delete, get, scroll, query, search, count, payload indexes) and
// the Qdrant health check. It serves real gRPC on a loopback port, so the
// official client github.com/qdrant/go-client talks to it unchanged.
//
// Scoring follows Qdrant: cosine normalises vectors on write and on query
// and scores by dot product; dot scores raw dot products; euclid and
// manhattan score by distance (lower is better); sparse vectors score the
// dot product over shared indices and only points sharing at least one
// index with the query are returned; a sparse vector with Modifier.Idf
// weights each query index by ln(1 + (N - n + 0.5) / (n + 0.5)), where N
// is the number of points in the collection and n the number holding the
// index. Ties are broken by point ID. Bad input gets the status codes
// Qdrant returns (wrong dimension → InvalidArgument, missing collection →
// NotFound, existing collection → AlreadyExists); features outside the
// subset answer Unimplemented rather than pretending.
//
// Tests can inject faults: FailNext makes the next calls fail with a
// status code, Block makes them hang until the caller's deadline, and
// RequireAPIKey rejects calls without the key. Calls counts every call.
package qdranttest

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Version is the Qdrant version the fake reports in its health check.
const Version = "1.17.1"

// Server is the fake Qdrant. The zero value is not usable; call NewServer.
// A Server is safe for concurrent use.
type Server struct {
	mu          sync.Mutex
	collections map[string]*collection
	aliases     map[string]string // alias → collection
	apiKey      string
	faults      []*fault
	calls       map[string]int // full method → calls
	opID        uint64

	grpc *grpc.Server
	addr string
}

type fault struct {
	method string // "" for any, else a full method or its last element
	n      int    // calls left to affect
	code   codes.Code
	block  bool // hang until the caller's context ends instead of failing
}

// NewServer returns an empty fake.
func NewServer() *Server {
	return &Server{
		collections: make(map[string]*collection),
		aliases:     make(map[string]string),
		calls:       make(map[string]int),
	}
}

// Start serves a new fake on a loopback port until the test ends and
// returns its address (host:port).
func Start(t testing.TB) (addr string) {
	t.Helper()
	return NewServer().Start(t)
}

// Start serves s on a loopback port until the test ends and returns its
// address (host:port).
func (s *Server) Start(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("qdranttest: listen: %v", err)
	}
	g := s.NewGRPCServer()
	s.mu.Lock()
	s.grpc = g
	s.addr = lis.Addr().String()
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = g.Serve(lis) // returns when stopped
	}()
	t.Cleanup(func() {
		g.Stop()
		<-done
	})
	return lis.Addr().String()
}

// Addr returns the address Start listens on ("" before Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// NewGRPCServer returns a gRPC server with the fake's services and fault
// interceptor registered, for callers that bring their own listener (a
// bufconn, say). The caller serves and stops it.
func (s *Server) NewGRPCServer() *grpc.Server {
	g := grpc.NewServer(
		grpc.UnaryInterceptor(s.intercept),
		// The official client pings every 10s even when idle; grpc-go's
		// default policy would answer that with GOAWAY "too_many_pings".
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             time.Second,
			PermitWithoutStream: true,
		}),
	)
	s.Register(g)
	return g
}

// Register registers the fake's services on g.
func (s *Server) Register(g grpc.ServiceRegistrar) {
	qdrant.RegisterCollectionsServer(g, collectionsService{s: s})
	qdrant.RegisterPointsServer(g, pointsService{s: s})
	qdrant.RegisterQdrantServer(g, healthService{})
}

// FailNext makes the next n calls to method fail with code. method is a
// full gRPC method ("/qdrant.Points/Upsert"), its last element ("Upsert"),
// or "" for any method. Faults are consumed in the order they were added.
func (s *Server) FailNext(method string, n int, code codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, n: n, code: code})
}

// Block makes the next n calls to method (as in FailNext) hang until the
// caller's context ends, as a server that stopped answering would.
func (s *Server) Block(method string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, n: n, block: true})
}

// RequireAPIKey makes the fake reject (Unauthenticated) calls that do not
// carry key in the "api-key" header, as Qdrant does when an API key is
// configured. An empty key turns the check off.
func (s *Server) RequireAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// Calls returns how many calls method (as in FailNext; "" for all) has
// received, failed and blocked ones included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for m, c := range s.calls {
		if methodMatches(method, m) {
			n += c
		}
	}
	return n
}

func methodMatches(pattern, full string) bool {
	return pattern == "" || pattern == full || strings.HasSuffix(full, "/"+pattern)
}

func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	s.mu.Lock()
	s.calls[info.FullMethod]++
	key := s.apiKey
	var f *fault
	for _, cand := range s.faults {
		if cand.n > 0 && methodMatches(cand.method, info.FullMethod) {
			cand.n--
			f = cand
			break
		}
	}
	s.mu.Unlock()

	if key != "" {
		md, _ := metadata.FromIncomingContext(ctx)
		if got := md.Get("api-key"); len(got) == 0 || got[0] != key {
			return nil, status.Error(codes.Unauthenticated, "Must provide an API key or an Authorization bearer token")
		}
	}
	if f != nil {
		if f.block {
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, status.Errorf(f.code, "qdranttest: injected fault on %s", info.FullMethod)
	}
	return handler(ctx, req)
}

type healthService struct {
	qdrant.UnimplementedQdrantServer
}

func (healthService) HealthCheck(context.Context, *qdrant.HealthCheckRequest) (*qdrant.HealthCheckReply, error) {
	return &qdrant.HealthCheckReply{Title: "qdrant - vector search engine (qdranttest fake)", Version: Version}, nil
}

// resolve returns the collection called name, following aliases. The
// caller holds s.mu.
func (s *Server) resolve(name string) (*collection, error) {
	if c, ok := s.collections[name]; ok {
		return c, nil
	}
	if target, ok := s.aliases[name]; ok {
		if c, ok := s.collections[target]; ok {
			return c, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "Not found: Collection `%s` doesn't exist!", name)
}

// nextOp returns a new operation id. The caller holds s.mu.
func (s *Server) nextOp() *qdrant.UpdateResult {
	s.opID++
	id := s.opID
	return &qdrant.UpdateResult{OperationId: &id, Status: qdrant.UpdateStatus_Completed}
}

func unimplemented(what string) error {
	return status.Errorf(codes.Unimplemented, "qdranttest: %s is not supported by the fake", what)
}

func invalid(msg string) error {
	return status.Error(codes.InvalidArgument, "Validation error in body: "+msg)
}
