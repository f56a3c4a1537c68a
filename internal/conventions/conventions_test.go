package conventions

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
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
		"redis unreachable: %w":                                                                  "health errors: wrapped as room registry unavailable or unhealthy",
		"instance not registered in Redis yet":                                                   "health errors: wrapped as room registry unavailable or unhealthy",
		"Redis.PresenceTTL (%v) must exceed twice Redis.Heartbeat (%v)":                          "wrapped by signalserver: invalid config",
		"Redis.Heartbeat, Redis.InboxLen, Redis.InboxBytes and Redis.OpTimeout must be positive": "wrapped by signalserver: invalid config",
		"redis URL: %w": "wrapped by signalserver: invalid config",
	},
	"transport/simnet": {
		"must not be negative":          "wrapped by simnet: <key>=<value>",
		"probability %v outside [0, 1]": "wrapped by simnet: <key>=<value>",
	},
}

// libraryFiles calls fn with every non-test Go file of a library package:
// not package main, not under cmd, examples or internal, where names and
// errors reach only their own program.
func libraryFiles(t *testing.T, fn func(dir string, fset *token.FileSet, f *ast.File)) {
	t.Helper()
	root := moduleRoot(t)
	fset := token.NewFileSet()
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
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name != "main" {
			fn(filepath.ToSlash(filepath.Dir(rel)), fset, f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestErrorPrefixes: every errors.New and fmt.Errorf with a literal message
// in a library package starts with the package's name, or with %w
// (a prefixed sentinel, checked where it is created), unless unprefixed
// lists it.
func TestErrorPrefixes(t *testing.T) {
	used := make(map[string]bool)
	checked := make(map[string]int) // per package directory
	libraryFiles(t, func(dir string, fset *token.FileSet, f *ast.File) {
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
	})
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

// TestDefaultsDocumented: every exported Default constant of a library
// package has a comment (its own or its group's), and the comment of a
// struct field of the same package names it, so that a reader of the
// setting finds its default and the reason for it.
func TestDefaultsDocumented(t *testing.T) {
	type constant struct {
		pos        token.Position
		documented bool
	}
	consts := make(map[string]constant)  // "pkg.DefaultX"
	fieldDocs := make(map[string]string) // by package directory
	pkgOf := make(map[string]string)     // "pkg.DefaultX" to its directory
	libraryFiles(t, func(dir string, fset *token.FileSet, f *ast.File) {
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				for _, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Default") || !name.IsExported() {
						continue
					}
					key := f.Name.Name + "." + name.Name
					consts[key] = constant{fset.Position(name.Pos()), gen.Doc != nil || vs.Doc != nil || vs.Comment != nil}
					pkgOf[key] = dir
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if st, ok := n.(*ast.StructType); ok {
				for _, field := range st.Fields.List {
					fieldDocs[dir] += field.Doc.Text() + field.Comment.Text() + "\n"
				}
			}
			return true
		})
	})
	if len(consts) == 0 {
		t.Fatal("found no Default constants: the walk is broken")
	}
	for key, c := range consts {
		if !c.documented {
			t.Errorf("%s: %s has no comment", c.pos, key)
		}
		name := key[strings.Index(key, ".")+1:]
		named := slices.ContainsFunc(strings.FieldsFunc(fieldDocs[pkgOf[key]], notIdentifier), func(w string) bool { return w == name })
		if !named {
			t.Errorf("%s: no field comment of %s names %s", c.pos, pkgOf[key], name)
		}
	}
}

func notIdentifier(r rune) bool {
	return !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r))
}

// TestClosedErrors: every package-level ErrClosed of a library package
// wraps net.ErrClosed (fmt.Errorf("...: %w", net.ErrClosed)), so that one
// errors.Is(err, net.ErrClosed) recognises them all.
func TestClosedErrors(t *testing.T) {
	found := 0
	libraryFiles(t, func(dir string, fset *token.FileSet, f *ast.File) {
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.VAR {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Err") || !strings.HasSuffix(name.Name, "Closed") {
						continue
					}
					found++
					if i >= len(vs.Values) || !wrapsNetErrClosed(vs.Values[i]) {
						t.Errorf("%s: %s does not wrap net.ErrClosed", fset.Position(name.Pos()), name.Name)
					}
				}
			}
		}
	})
	if found == 0 {
		t.Fatal("found no ErrClosed: the walk is broken")
	}
}

// wrapsNetErrClosed reports whether e is fmt.Errorf("...%w...", net.ErrClosed).
func wrapsNetErrClosed(e ast.Expr) bool {
	msg, ok := createdError(e)
	call, _ := e.(*ast.CallExpr)
	if !ok || !strings.Contains(msg, "%w") || len(call.Args) != 2 {
		return false
	}
	sel, ok := call.Args[1].(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "net" && sel.Sel.Name == "ErrClosed"
}
