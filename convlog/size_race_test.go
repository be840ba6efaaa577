//go:build race

package convlog_test

// Under the race detector the pure-Go SQLite runs some 80 times slower,
// so `go test -race` checks the report on 2,000 generated conversations;
// `go test ./convlog` (no -race) and the benchmark use 10,000.
const historyConversations = 2000
