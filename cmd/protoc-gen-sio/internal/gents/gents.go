// Package gents emits the TypeScript side of a service for
// socket.io-client and protobuf-es v2 messages: a client class per
// service, and a handler interface and register function per client-side
// service. The code they share (calls, streams, errors) is the runtime
// package, imported by name, so every generated file of a program uses the
// one RpcError class. It works from the raw descriptors, so files need no
// Go package option.
package gents

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/sio-dev/sio/cmd/protoc-gen-sio/internal/siodesc"
)

// RuntimePackage is the npm package of the TypeScript runtime
// (runtime/ts in the sio repository) that generated files import.
const RuntimePackage = "@sio-dev/runtime"

// Generate answers req with TypeScript files, one per .proto file with
// services. The parameter may name another module specifier for the
// runtime ("runtime=<specifier>"), for a project that vendors it.
func Generate(req *pluginpb.CodeGeneratorRequest, version string) *pluginpb.CodeGeneratorResponse {
	resp := &pluginpb.CodeGeneratorResponse{SupportedFeatures: proto.Uint64(uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL))}
	runtime := RuntimePackage
	if p := req.GetParameter(); p != "" {
		spec, ok := strings.CutPrefix(p, "runtime=")
		if !ok || spec == "" || strings.Contains(spec, ",") {
			resp.Error = proto.String(fmt.Sprintf("lang=ts takes one other option, runtime=<module>, got %q", p))
			return resp
		}
		runtime = spec
	}
	files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: req.GetProtoFile()})
	if err != nil {
		resp.Error = proto.String(err.Error())
		return resp
	}
	for _, name := range req.GetFileToGenerate() {
		fd, err := files.FindFileByPath(name)
		if err != nil {
			resp.Error = proto.String(err.Error())
			return resp
		}
		if fd.Services().Len() == 0 {
			continue
		}
		content, err := generateFile(fd, version, runtime)
		if err != nil {
			resp.Error = proto.String(err.Error())
			return resp
		}
		resp.File = append(resp.File, &pluginpb.CodeGeneratorResponse_File{
			Name:    proto.String(strings.TrimSuffix(fd.Path(), ".proto") + "_sio.ts"),
			Content: proto.String(content),
		})
	}
	return resp
}

// writer accumulates a file with two-space indentation.
type writer struct {
	b      strings.Builder
	indent int
}

func (w *writer) line(parts ...string) {
	text := strings.Join(parts, "")
	if text != "" {
		w.b.WriteString(strings.Repeat("  ", w.indent))
		w.b.WriteString(text)
	}
	w.b.WriteByte('\n')
}

func (w *writer) open(parts ...string) {
	w.line(parts...)
	w.indent++
}

func (w *writer) close(parts ...string) {
	w.indent--
	w.line(parts...)
}

// imports collects the names a file takes from each module.
type imports struct {
	values map[string][]string // module -> value names
	types  map[string][]string // module -> type-only names
}

func (im *imports) value(module, name string) string {
	if !slices.Contains(im.values[module], name) {
		im.values[module] = append(im.values[module], name)
	}
	return name
}

func (im *imports) typ(module, name string) string {
	if !slices.Contains(im.types[module], name) {
		im.types[module] = append(im.types[module], name)
	}
	return name
}

// write emits the import block, modules and names sorted.
func (im *imports) write(w *writer) {
	modules := map[string]bool{}
	for m := range im.values {
		modules[m] = true
	}
	for m := range im.types {
		modules[m] = true
	}
	sorted := make([]string, 0, len(modules))
	for m := range modules {
		sorted = append(sorted, m)
	}
	// Packages first, then relative paths; alphabetical within each.
	slices.SortFunc(sorted, func(a, b string) int {
		ra, rb := strings.HasPrefix(a, "."), strings.HasPrefix(b, ".")
		if ra != rb {
			if ra {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	for _, m := range sorted {
		names := slices.Clone(im.values[m])
		for _, n := range im.types[m] {
			if !slices.Contains(im.values[m], n) {
				names = append(names, "type "+n)
			}
		}
		slices.SortFunc(names, func(a, b string) int {
			return strings.Compare(strings.TrimPrefix(a, "type "), strings.TrimPrefix(b, "type "))
		})
		kw := "import "
		if len(im.values[m]) == 0 {
			kw = "import type "
			for i := range names {
				names[i] = strings.TrimPrefix(names[i], "type ")
			}
		}
		one := kw + "{ " + strings.Join(names, ", ") + " } from \"" + m + "\";"
		if len(one) <= 100 {
			w.line(one)
			continue
		}
		w.open(kw, "{")
		for _, n := range names {
			w.line(n, ",")
		}
		w.close("} from \"", m, "\";")
	}
}

// relImport returns the import specifier of target (a path without
// extension, relative to the output root) from the file at from.
func relImport(from, target string) string {
	rel, _ := pathRel(path.Dir(from), target)
	if !strings.HasPrefix(rel, ".") {
		rel = "./" + rel
	}
	return rel + ".js"
}

// pathRel is filepath.Rel for slash paths.
func pathRel(base, target string) (string, error) {
	bs := splitPath(base)
	ts := splitPath(target)
	i := 0
	for i < len(bs) && i < len(ts) && bs[i] == ts[i] {
		i++
	}
	parts := make([]string, 0, len(bs)-i+len(ts)-i)
	for range bs[i:] {
		parts = append(parts, "..")
	}
	parts = append(parts, ts[i:]...)
	return strings.Join(parts, "/"), nil
}

func splitPath(p string) []string {
	if p == "." || p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// messageName is protoc-gen-es's name for a message: nested names joined
// with underscores.
func messageName(m protoreflect.MessageDescriptor) string {
	name := string(m.Name())
	for p := m.Parent(); p != nil; p = p.Parent() {
		pm, ok := p.(protoreflect.MessageDescriptor)
		if !ok {
			break
		}
		name = string(pm.Name()) + "_" + name
	}
	return name
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// docComment writes a proto element's leading comment as JSDoc.
func docComment(w *writer, loc protoreflect.SourceLocation, fallback string) {
	text := strings.TrimSpace(loc.LeadingComments)
	if text == "" {
		text = fallback
	}
	lines := strings.Split(text, "\n")
	if len(lines) == 1 {
		w.line("/** ", strings.TrimSpace(lines[0]), " */")
		return
	}
	w.line("/**")
	for _, l := range lines {
		w.line(strings.TrimRight(" * "+strings.TrimSpace(l), " "))
	}
	w.line(" */")
}

func generateFile(fd protoreflect.FileDescriptor, version, runtime string) (string, error) {
	var services []protoreflect.ServiceDescriptor
	for i := range fd.Services().Len() {
		s := fd.Services().Get(i)
		services = append(services, s)
		for j := range s.Methods().Len() {
			if _, err := siodesc.MethodKind(fd.Path(), s.Methods().Get(j)); err != nil {
				return "", err
			}
		}
	}
	if err := siodesc.CheckEvents(fd.Path(), services); err != nil {
		return "", err
	}
	outName := strings.TrimSuffix(fd.Path(), ".proto") + "_sio.ts"
	im := &imports{values: map[string][]string{}, types: map[string][]string{}}
	schema := func(m protoreflect.MessageDescriptor) string {
		mod := relImport(outName, strings.TrimSuffix(m.ParentFile().Path(), ".proto")+"_pb")
		return im.value(mod, messageName(m)+"Schema")
	}
	msgType := func(m protoreflect.MessageDescriptor) string {
		mod := relImport(outName, strings.TrimSuffix(m.ParentFile().Path(), ".proto")+"_pb")
		return im.typ(mod, messageName(m))
	}

	body := &writer{}
	for _, s := range services {
		name := string(s.Name())
		loc := fd.SourceLocations().ByDescriptor(s)
		body.line()
		body.line("/** The Socket.IO namespace of ", name, ". */")
		body.line("export const ", name, "Namespace = ", quote(siodesc.Namespace(s)), ";")
		body.line()
		body.line("/** Event names of ", name, "'s methods. */")
		body.open("export const ", name, "Events = {")
		for j := range s.Methods().Len() {
			m := s.Methods().Get(j)
			body.line(lowerFirst(string(m.Name())), ": ", quote(siodesc.Event(m)), ",")
		}
		body.close("} as const;")
		sock := im.typ("socket.io-client", "Socket")
		if siodesc.ClientSide(s) {
			ctx := im.typ(runtime, "HandlerContext")
			initShape := im.typ("@bufbuild/protobuf", "MessageInitShape")
			body.line()
			docComment(body, loc, name+" is implemented by clients; the server calls it.")
			body.open("export interface ", name, "Handler {")
			for j := range s.Methods().Len() {
				m := s.Methods().Get(j)
				out := "MessageInitShape<typeof " + schema(m.Output()) + ">"
				_ = initShape
				docComment(body, fd.SourceLocations().ByDescriptor(m), string(m.Name())+" answers "+string(m.FullName())+".")
				body.line(lowerFirst(string(m.Name())), "(request: ", msgType(m.Input()), ", context: ", ctx, "): Promise<", out, "> | ", out, ";")
			}
			body.close("}")
			body.line()
			body.line("/** Serves ", name, " on socket with impl; the returned function stops serving. */")
			body.open("export function register", name, "Handler(socket: ", sock, ", impl: ", name, "Handler): () => void {")
			reg := im.value(runtime, "registerHandler")
			body.open("const offs = [")
			for j := range s.Methods().Len() {
				m := s.Methods().Get(j)
				lm := lowerFirst(string(m.Name()))
				body.line(reg, "(socket, ", name, "Events.", lm, ", ", schema(m.Input()), ", ", schema(m.Output()), ", (request, context) => impl.", lm, "(request, context)),")
			}
			body.close("];")
			body.open("return () => {")
			body.line("for (const off of offs) off();")
			body.close("};")
			body.close("}")
			continue
		}
		opts := im.typ(runtime, "CallOptions")
		clientOpts := im.typ(runtime, "ClientOptions")
		initShape := im.typ("@bufbuild/protobuf", "MessageInitShape")
		body.line()
		docComment(body, loc, name+" client.")
		body.open("export class ", name, "Client {")
		body.line("/** options hold the default deadline and the interceptors of every call. */")
		body.line("constructor(private readonly socket: ", sock, ", private readonly options?: ", clientOpts, ") {}")
		for j := range s.Methods().Len() {
			m := s.Methods().Get(j)
			kind, _ := siodesc.MethodKind(fd.Path(), m)
			lm := lowerFirst(string(m.Name()))
			in, out := schema(m.Input()), schema(m.Output())
			body.line()
			docComment(body, fd.SourceLocations().ByDescriptor(m), string(m.Name())+" calls "+string(m.FullName())+".")
			switch kind {
			case siodesc.ServerStream:
				sub := im.value(runtime, "subscribe")
				body.open(lm, "(request: ", initShape, "<typeof ", in, ">, options?: ", opts, "): AsyncIterable<", msgType(m.Output()), "> {")
				body.line("return ", sub, "(this.socket, ", name, "Events.", lm, ", ", in, ", ", out, ", request, options, this.options", idempotency(m), ");")
			case siodesc.CallServerStream:
				call := im.value(runtime, "callServerStream")
				body.open(lm, "(request: ", initShape, "<typeof ", in, ">, options?: ", opts, "): AsyncIterable<", msgType(m.Output()), "> {")
				body.line("return ", call, "(this.socket, ", name, "Events.", lm, ", ", in, ", ", out, ", request, options, this.options);")
			case siodesc.ClientStream:
				call := im.value(runtime, "callClientStream")
				body.open(lm, "(requests: AsyncIterable<", initShape, "<typeof ", in, ">>, options?: ", opts, "): Promise<", msgType(m.Output()), "> {")
				body.line("return ", call, "(this.socket, ", name, "Events.", lm, ", ", in, ", ", out, ", requests, options, this.options);")
			case siodesc.BidiStream:
				call := im.value(runtime, "callBidiStream")
				body.open(lm, "(requests: AsyncIterable<", initShape, "<typeof ", in, ">>, options?: ", opts, "): AsyncIterable<", msgType(m.Output()), "> {")
				body.line("return ", call, "(this.socket, ", name, "Events.", lm, ", ", in, ", ", out, ", requests, options, this.options);")
			default:
				call := im.value(runtime, "callUnary")
				body.open(lm, "(request: ", initShape, "<typeof ", in, ">, options?: ", opts, "): Promise<", msgType(m.Output()), "> {")
				body.line("return ", call, "(this.socket, ", name, "Events.", lm, ", ", in, ", ", out, ", request, options, this.options", idempotency(m), ");")
			}
			body.close("}")
		}
		body.close("}")
	}

	head := &writer{}
	head.line("// Code generated by protoc-gen-sio. DO NOT EDIT.")
	head.line("// versions:")
	head.line("// \tprotoc-gen-sio v", version)
	head.line("// source: ", fd.Path())
	head.line()
	im.write(head)
	return head.b.String() + body.b.String(), nil
}

// idempotency is the runtime's argument for a method's idempotency_level,
// empty for the default (unknown: never retried).
func idempotency(m protoreflect.MethodDescriptor) string {
	opts, _ := m.Options().(*descriptorpb.MethodOptions)
	switch opts.GetIdempotencyLevel() {
	case descriptorpb.MethodOptions_NO_SIDE_EFFECTS:
		return `, "no_side_effects"`
	case descriptorpb.MethodOptions_IDEMPOTENT:
		return `, "idempotent"`
	}
	return ""
}

// quote writes s as a TypeScript string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
