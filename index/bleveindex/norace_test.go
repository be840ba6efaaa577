//go:build !race

package bleveindex

const raceEnabled = false
