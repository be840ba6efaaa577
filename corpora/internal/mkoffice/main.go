// Command mkoffice regenerates the help centre's Word, PowerPoint, Excel
// and CSV documents and its scans from their JSON sources. Run it from the corpora
// directory, or through `go generate ./corpora`:
//
//	go run ./internal/mkoffice [-src officesrc] [-out helpcenter]
//
// A source officesrc/<topic>/<name>.<ext>.json becomes
// helpcenter/<topic>/<name>.<ext>. Its fields are those of
// internal/officegen: a Doc for .docx; {"Title", "Slides"} for .pptx;
// {"Title", "Sheets"} for .xlsx; {"Encoding", "Rows"} for .csv, where
// Encoding "gbk" writes GBK as a Chinese Excel export does; {"Font",
// "Pages"} for a scan (.png, or .pdf of page images; see
// officedoc.Scan), drawn with Debian's fonts. The output
// is byte-for-byte reproducible; commit it together with the sources.
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/quarry-kb/quarry/corpora/internal/officedoc"
)

func main() {
	src := flag.String("src", "officesrc", "directory of office document sources")
	out := flag.String("out", "helpcenter", "directory the documents are written to")
	flag.Parse()
	if err := run(*src, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mkoffice:", err)
		os.Exit(1)
	}
}

func run(src, out string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		data, err := officedoc.Render(filepath.Base(strings.TrimSuffix(p, ".json")), raw)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rel, _ := filepath.Rel(src, strings.TrimSuffix(p, ".json"))
		dst := filepath.Join(out, rel)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", dst)
		return nil
	})
}
