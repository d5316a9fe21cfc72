package wssync

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// The Go codes (allCodes, which Stats counts) match the table of docs/protocol.md (web/react-hook checks its own copy).
func TestCodesMatchProtocolDoc(t *testing.T) {
	doc, err := os.ReadFile("docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "## Error codes")
	if !ok {
		t.Fatal("no error code table")
	}
	var documented []Code
	inTable := false
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		cell := strings.TrimSpace(strings.Split(line, "|")[1])
		if strings.HasPrefix(cell, "`") {
			documented = append(documented, Code(strings.Trim(cell, "`")))
		}
	}
	if !slices.Equal(documented, allCodes) {
		t.Fatalf("docs/protocol.md lists\n%v\nthe Go constants are\n%v", documented, allCodes)
	}
}
