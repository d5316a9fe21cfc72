package wssync_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wssync/wssync"
)

// TestErrorPrefixOnce: an error the package wraps with its own context names the package
// once, and errors.Is still finds the sentinel.
func TestErrorPrefixOnce(t *testing.T) {
	type dup struct {
		A int `sync:"x"`
		B int `json:"x"`
	}
	sess := wssync.NewSession()
	defer sess.Close()
	_, err := wssync.Register(sess, "C", &dup{})
	if !errors.Is(err, wssync.ErrDuplicateName) {
		t.Fatalf("err = %v, want ErrDuplicateName", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, `wssync: key "C": duplicate wire name`) || strings.Count(msg, "wssync:") != 1 {
		t.Errorf("message %q: want the prefix once, as `wssync: key \"C\": duplicate wire name...`", msg)
	}
}

// TestErrorfWrapsBare: every fmt.Errorf of the module whose message begins with "wssync: "
// passes each %w operand through bare, so no wrapped error repeats the prefix. A check of
// the source, so that a wrapping added later cannot double the prefix either.
func TestErrorfWrapsBare(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || !isErrorf(call) || len(call.Args) == 0 {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok {
				return true
			}
			format, _ := strconv.Unquote(lit.Value)
			if !strings.HasPrefix(format, "wssync: ") {
				return true
			}
			for i, verb := range verbs(format) {
				if verb != 'w' || i+1 >= len(call.Args) {
					continue
				}
				checked++
				if c, ok := call.Args[i+1].(*ast.CallExpr); !ok || !isIdent(c.Fun, "bare") {
					t.Errorf("%s: %%w operand of %q is not wrapped in bare()", fset.Position(call.Pos()), format)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no wrapping found: the check reads nothing")
	}
}

func isErrorf(c *ast.CallExpr) bool {
	sel, ok := c.Fun.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Errorf" && isIdent(sel.X, "fmt")
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// verbs returns the verb letters of a format, one per operand (%% excluded).
func verbs(format string) []byte {
	var out []byte
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for i < len(format) && strings.IndexByte("+-# 0123456789.", format[i]) >= 0 {
			i++
		}
		if i < len(format) && format[i] != '%' {
			out = append(out, format[i])
		}
	}
	return out
}
