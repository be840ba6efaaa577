// Command mkpdf regenerates the help centre's PDF documents from their
// text sources. Run it from the corpora directory, or through
// `go generate ./corpora`:
//
//	go run ./internal/mkpdf [-src pdfsrc] [-out helpcenter]
//
// The output is byte-for-byte reproducible; commit the regenerated PDFs
// together with the sources.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/quarry-kb/quarry/corpora/internal/pdfgen"
)

func main() {
	src := flag.String("src", "pdfsrc", "directory of PDF text sources")
	out := flag.String("out", "helpcenter", "directory the PDFs are written to")
	flag.Parse()
	written, err := pdfgen.Generate(*src, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkpdf:", err)
		os.Exit(1)
	}
	for _, p := range written {
		fmt.Println("wrote", p)
	}
}
