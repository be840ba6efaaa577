//go:build race

package server

// Under the race detector the pure-Go SQLite runs some 80 times slower:
// `go test -race` checks the dashboard on 2,000 generated conversations,
// `go test ./server` and the benchmark on 10,000.
const dashboardConversations = 2000
