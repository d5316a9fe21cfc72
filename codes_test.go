package wssync

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// protocolTable returns the rows (cells trimmed) of the markdown table that follows
// heading in docs/protocol.md, header and separator left out. web/react-hook reads the
// same tables in test/codes.test.ts.
func protocolTable(t *testing.T, heading string) [][]string {
	t.Helper()
	doc, err := os.ReadFile("docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), heading+"\n")
	if !ok {
		t.Fatalf("docs/protocol.md has no %q", heading)
	}
	var rows [][]string
	inTable := false
	for _, line := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		cells := strings.Split(line, "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells[1:len(cells)-1])
	}
	if len(rows) < 3 {
		t.Fatalf("docs/protocol.md: no table after %q", heading)
	}
	return rows[2:]
}

// constant is one constant of codes.go: its literal value and its line comment.
type constant struct{ value, comment string }

// constValues returns codes.go's constants whose names start with prefix, in order: the
// table in Go is the constants themselves, so none can be left out of a mirror.
func constValues(t *testing.T, prefix string) []constant {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "codes.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var out []constant
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if strings.HasPrefix(n.Name, prefix) {
					out = append(out, constant{vs.Values[i].(*ast.BasicLit).Value, vs.Comment.Text()})
				}
			}
		}
	}
	return out
}

// TestCodesMirrorProtocolDoc: the error codes of docs/protocol.md's table, in its order,
// are exactly the Code constants and the codes the server counts (allCodes).
func TestCodesMirrorProtocolDoc(t *testing.T) {
	var documented []Code
	for _, row := range protocolTable(t, "## Error codes") {
		documented = append(documented, Code(strings.Trim(row[0], "`")))
	}
	if !slices.Equal(documented, allCodes) {
		t.Errorf("docs/protocol.md error codes %v\nallCodes %v", documented, allCodes)
	}
	var declared []Code
	for _, c := range constValues(t, "Code") {
		s, err := strconv.Unquote(c.value)
		if err != nil {
			t.Fatal(err)
		}
		declared = append(declared, Code(s))
	}
	if !slices.Equal(declared, allCodes) {
		t.Errorf("Code constants %v\nallCodes %v", declared, allCodes)
	}
}

// TestCloseCodesMirrorProtocolDoc: the close codes of docs/protocol.md's table are exactly
// the Close constants, and the terminal ones (the client should not reconnect) are the
// ones whose comment says "terminal".
func TestCloseCodesMirrorProtocolDoc(t *testing.T) {
	documented := map[int]bool{}
	for _, row := range protocolTable(t, "## Close codes") {
		code, err := strconv.Atoi(row[0])
		if err != nil {
			t.Fatalf("close code %q: %v", row[0], err)
		}
		documented[code] = strings.HasPrefix(row[2], "not reconnect")
	}
	declared := map[int]bool{}
	for _, c := range constValues(t, "Close") {
		n, err := strconv.Atoi(c.value)
		if err != nil {
			t.Fatal(err)
		}
		declared[n] = strings.Contains(c.comment, "terminal")
	}
	if !maps.Equal(documented, declared) {
		t.Errorf("docs/protocol.md close codes (code: terminal) %v\nClose constants %v", documented, declared)
	}
	var terminal []int
	for c, term := range declared {
		if term {
			terminal = append(terminal, c)
		}
	}
	slices.Sort(terminal)
	if !slices.Equal(terminal, []int{ClosePolicyViolation, CloseReplaced, CloseUnauthorized}) {
		t.Errorf("terminal close codes %v", terminal)
	}
}
