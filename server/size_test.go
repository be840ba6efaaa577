//go:build !race

package server

// dashboardConversations is the size of the generated history the
// dashboard is checked and benchmarked on.
const dashboardConversations = 10000
