package conventions

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// README code is compiled and tested: the README's first Go block is the
// whole of examples/tiny/main.go, and every other Go block is made of
// excerpts of the module's Go files (examples and tests, which the build
// compiles and the tests run), separated by "// ..." lines, each excerpt a
// run of consecutive lines of one file. Indentation and blank lines do not
// count, so an excerpt may come from inside a function.
func TestREADMECodeIsCompiled(t *testing.T) {
	root := moduleRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(string(readme))
	if len(blocks) == 0 {
		t.Fatal("README.md has no Go code block")
	}
	tiny, err := os.ReadFile(filepath.Join(root, "examples", "tiny", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if blocks[0] != string(tiny) {
		t.Errorf("README.md's first Go block is not examples/tiny/main.go as it is: copy the file into the README")
	}
	sources := map[string][]string{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") && path != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			sources[rel] = normalizedLines(string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, block := range blocks[1:] {
		for _, excerpt := range strings.Split(block, "// ...\n") {
			lines := normalizedLines(excerpt)
			if len(lines) == 0 {
				continue
			}
			if !foundIn(sources, lines) {
				t.Errorf("README.md's Go block %d has an excerpt found in no Go file of the module (compiled code), starting %q", i+2, lines[0])
			}
		}
	}
}

// goBlocks returns the contents of the ```go blocks of a Markdown text.
func goBlocks(md string) []string {
	var blocks []string
	var cur *strings.Builder
	for line := range strings.Lines(md) {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur = &strings.Builder{}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line)
		}
	}
	return blocks
}

// normalizedLines returns s's lines trimmed, without blank ones.
func normalizedLines(s string) []string {
	var out []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// foundIn reports whether lines occur, consecutively, in one of sources.
func foundIn(sources map[string][]string, lines []string) bool {
	for _, src := range sources {
		for i := 0; i+len(lines) <= len(src); i++ {
			if src[i] == lines[0] && equalLines(src[i:i+len(lines)], lines) {
				return true
			}
		}
	}
	return false
}

func equalLines(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
