package auth

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"
)

// TestLookupIsConstantTime reads the keyring's source: a presented key's
// hash is compared with every stored hash by subtle.ConstantTimeCompare,
// in a loop that neither breaks nor returns early, and with no other
// comparison (==, bytes.Equal, a map lookup) on the hashes. Timing is
// not measured (no timed tests); this keeps the property from being
// edited away.
func TestLookupIsConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "keyring.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var lookup *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "lookup" {
			lookup = fd
		}
	}
	if lookup == nil {
		t.Fatal("no func lookup in keyring.go")
	}
	calls, loops := 0, 0
	ast.Inspect(lookup.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok {
					switch x.Name + "." + sel.Sel.Name {
					case "subtle.ConstantTimeCompare":
						calls++
					case "bytes.Equal", "bytes.Compare", "strings.EqualFold":
						t.Errorf("%s: %s.%s compares keys in variable time", fset.Position(n.Pos()), x.Name, sel.Sel.Name)
					}
				}
			}
		case *ast.RangeStmt:
			loops++
			ast.Inspect(n.Body, func(m ast.Node) bool {
				switch m := m.(type) {
				case *ast.BranchStmt:
					if m.Tok == token.BREAK {
						t.Errorf("%s: the comparison loop stops at the first match", fset.Position(m.Pos()))
					}
				case *ast.ReturnStmt:
					t.Errorf("%s: the comparison loop returns at the first match", fset.Position(m.Pos()))
				}
				return true
			})
		case *ast.BinaryExpr:
			if n.Op == token.EQL {
				for _, side := range []ast.Expr{n.X, n.Y} {
					if id, ok := side.(*ast.Ident); ok && (id.Name == "h" || id.Name == "stored") {
						t.Errorf("%s: == on a hash", fset.Position(n.Pos()))
					}
				}
			}
		case *ast.IndexExpr:
			if id, ok := n.Index.(*ast.Ident); ok && id.Name == "h" {
				t.Errorf("%s: the hash is looked up by index (a map lookup is not constant time)", fset.Position(n.Pos()))
			}
		}
		return true
	})
	if calls != 1 || loops != 1 {
		t.Errorf("lookup: %d calls of subtle.ConstantTimeCompare in %d loops, want one in one loop over the stored hashes", calls, loops)
	}
}
