package wssync

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestCodesMirrorProtocolDoc: the error codes of docs/protocol.md's table, in its order,
// are exactly the codes the server counts (allCodes); web/react-hook mirrors the same
// table and checks it in test/codes.test.ts.
func TestCodesMirrorProtocolDoc(t *testing.T) {
	doc, err := os.ReadFile("docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "## Error codes")
	if !ok {
		t.Fatal(`docs/protocol.md has no "## Error codes"`)
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
		t.Errorf("docs/protocol.md error codes %v\nallCodes %v", documented, allCodes)
	}
}
