package conventions

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// moduleRoot is the directory of go.mod above the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the package")
		}
		dir = parent
	}
}

// unprefixed lists, by package directory and exact message, the errors a
// package creates without its prefix, and the prefixed error that always
// wraps them inside the package.
var unprefixed = map[string]map[string]string{
	"signalserver": {
		"redis unreachable: %w":                                                "health errors: wrapped as room registry unavailable or unhealthy",
		"instance not registered in Redis yet":                                 "health errors: wrapped as room registry unavailable or unhealthy",
		"Redis.PresenceTTL (%v) must exceed twice Redis.Heartbeat (%v)":        "wrapped by signalserver: invalid config",
		"Redis.Heartbeat, Redis.InboxLen and Redis.OpTimeout must be positive": "wrapped by signalserver: invalid config",
		"redis URL: %w": "wrapped by signalserver: invalid config",
	},
	"transport/simnet": {
		"must not be negative":          "wrapped by simnet: <key>=<value>",
		"probability %v outside [0, 1]": "wrapped by simnet: <key>=<value>",
	},
}

// TestErrorPrefixes: every errors.New and fmt.Errorf with a literal message
// in a library package (not under cmd, examples or internal, where errors
// reach only their own program) starts with the package's name, or with %w
// (a prefixed sentinel, checked where it is created), unless unprefixed
// lists it.
func TestErrorPrefixes(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	used := make(map[string]bool)
	checked := make(map[string]int) // per package directory
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch {
			case rel == ".":
			case strings.HasPrefix(d.Name(), "."), d.Name() == "testdata",
				rel == "cmd", rel == "examples", rel == "internal", rel == "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		prefix := f.Name.Name + ": "
		ast.Inspect(f, func(n ast.Node) bool {
			msg, ok := createdError(n)
			if !ok {
				return true
			}
			checked[dir]++
			if strings.HasPrefix(msg, prefix) || strings.HasPrefix(msg, "%w") {
				return true
			}
			if _, ok := unprefixed[dir][msg]; ok {
				used[dir+"\x00"+msg] = true
				return true
			}
			t.Errorf("%s: error %q does not start with %q", fset.Position(n.Pos()), msg, prefix)
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir, msgs := range unprefixed {
		for msg := range msgs {
			if !used[dir+"\x00"+msg] {
				t.Errorf("unprefixed lists %s: %q, which the package no longer creates", dir, msg)
			}
		}
	}
	// The walk must have seen the packages the convention is about.
	for _, dir := range []string{"signalserver", "signalserver/web", "transport", "transport/udp", "transport/simnet", "rollback"} {
		if checked[dir] == 0 {
			t.Errorf("no error created in %s: the walk is broken", dir)
		}
	}
}

// createdError returns the literal message of errors.New("...") or
// fmt.Errorf("...", ...).
func createdError(n ast.Node) (string, bool) {
	call, ok := n.(*ast.CallExpr)
	if !ok || len(call.Args) == 0 {
		return "", false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok || !(pkg.Name == "errors" && sel.Sel.Name == "New" || pkg.Name == "fmt" && sel.Sel.Name == "Errorf") {
		return "", false
	}
	lit, ok := call.Args[0].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	msg, err := strconv.Unquote(lit.Value)
	return msg, err == nil
}
