// Package houserules is the analyzer for sio's house rules that the
// compiler does not check. It reads the syntax tree and types, so a rule
// is never fooled by a comment or a string, as a text search would be.
//
// Everywhere but generated code and tests:
//   - any, not interface{}.
//
// In library code (packages under runtime/), also:
//   - no time.After: its timer lives until it fires, however early the
//     select that used it returned;
//   - no context.Background or context.TODO, except on a line marked
//     //sio:root-context (a long-lived object's own lifetime);
//   - no fmt.Print* and no package log: library code logs through an
//     injected *slog.Logger;
//   - no panic.
//
// Run it with go vet -vettool (see cmd/siovet).
package houserules

import (
	"go/ast"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// Module is the module whose packages the rules know by path.
const Module = "github.com/sio-dev/sio"

// RootContextMark exempts a line from the context.Background rule.
const RootContextMark = "//sio:root-context"

// Analyzer reports violations of the house rules.
var Analyzer = &analysis.Analyzer{
	Name: "houserules",
	Doc:  "sio's house rules: any over interface{}; in runtime/ no time.After, context.Background/TODO, fmt.Print, log or panic",
	Run:  run,
}

func run(pass *analysis.Pass) (any, error) {
	path := pass.Pkg.Path()
	if strings.HasPrefix(path, Module+"/gen/") {
		return nil, nil
	}
	library := strings.HasPrefix(path, Module+"/runtime/") || path == Module+"/runtime"
	for _, file := range pass.Files {
		name := pass.Fset.File(file.Pos()).Name()
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		marked := markedLines(pass, file)
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.InterfaceType:
				if n.Methods == nil || len(n.Methods.List) == 0 {
					pass.Reportf(n.Pos(), "use any, not interface{}")
				}
			case *ast.CallExpr:
				if library {
					checkCall(pass, n, marked)
				}
			}
			return true
		})
	}
	return nil, nil
}

// checkCall applies the library rules to one call.
func checkCall(pass *analysis.Pass, call *ast.CallExpr, marked map[int]bool) {
	switch fn := callee(pass, call).(type) {
	case *types.Builtin:
		if fn.Name() == "panic" {
			pass.Reportf(call.Pos(), "no panics in library code: return an error")
		}
	case *types.Func:
		if fn.Pkg() == nil || fn.Signature().Recv() != nil {
			return // a method, such as time.Time.After, is no package function
		}
		switch pkg, name := fn.Pkg().Path(), fn.Name(); {
		case pkg == "time" && name == "After":
			pass.Reportf(call.Pos(), "no time.After in library code (its timer lives until it fires): use time.NewTimer and Stop")
		case pkg == "context" && (name == "Background" || name == "TODO"):
			if !marked[pass.Fset.Position(call.Pos()).Line] {
				pass.Reportf(call.Pos(), "no context.%s in library code: take a context, or mark a root context with %s", name, RootContextMark)
			}
		case pkg == "fmt" && strings.HasPrefix(name, "Print"):
			pass.Reportf(call.Pos(), "no printing in library code: log through an injected *slog.Logger")
		case pkg == "log":
			pass.Reportf(call.Pos(), "no global logging in library code: log through an injected *slog.Logger")
		}
	}
}

// callee returns the function or builtin a call calls, or nil.
func callee(pass *analysis.Pass, call *ast.CallExpr) types.Object {
	var id *ast.Ident
	switch f := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		id = f
	case *ast.SelectorExpr:
		id = f.Sel
	default:
		return nil
	}
	return pass.TypesInfo.Uses[id]
}

// markedLines returns the lines of file that carry RootContextMark.
func markedLines(pass *analysis.Pass, file *ast.File) map[int]bool {
	var lines map[int]bool
	for _, group := range file.Comments {
		for _, c := range group.List {
			if strings.HasPrefix(c.Text, RootContextMark) {
				if lines == nil {
					lines = map[int]bool{}
				}
				lines[pass.Fset.Position(c.Pos()).Line] = true
			}
		}
	}
	return lines
}
