package convlog_test

import (
	"database/sql"
	"fmt"
	"os"
	"testing"
)

func setVersion(t *testing.T, path string, v int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		t.Fatal(err)
	}
}

var tempDirs []string

// tempDir is a directory for data shared across tests (t.TempDir is
// per test); TestMain removes it.
func tempDir() (string, error) {
	d, err := os.MkdirTemp("", "convlog-test-")
	if err == nil {
		tempDirs = append(tempDirs, d)
	}
	return d, err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if historyLog != nil {
		historyLog.Close()
	}
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}
