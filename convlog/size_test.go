//go:build !race

package convlog_test

// historyConversations is the size of the generated history the report
// is checked on (see size_race_test.go).
const historyConversations = 10000
