package pod

import (
	"fmt"
	"strings"

	"olympos.io/encoding/edn"
)

// Namespace is one namespace advertised in describe. It holds pod vars,
// which the client turns into functions that invoke the pod, and optionally
// client-side code that the client evaluates in the namespace.
type Namespace struct {
	name string
	code string
	vars []*Var
	srv  *Server
}

// Var is a function implemented in the pod.
type Var struct {
	// Name is the var's name within its namespace.
	Name string
	// MinArgs and MaxArgs bound the number of arguments; MaxArgs < 0
	// means no upper bound. Calls outside the bounds get an arity error
	// without reaching Fn.
	MinArgs, MaxArgs int
	// Doc is the docstring shown by (doc ...) on the client.
	Doc string
	// Arglists are the argument vectors, e.g. "[session command opts]".
	Arglists []string
	// Fn answers a synchronous call with one value. Exactly one of Fn
	// and Stream is set.
	Fn Func
	// Stream answers a call with any number of values (Call.Send), then
	// done; babashka.pods/invoke with :handlers receives them.
	Stream StreamFunc
}

// Func computes the single value of a call.
type Func func(c *Call) (any, error)

// StreamFunc sends values with c.Send and returns when the call is done.
type StreamFunc func(c *Call) error

// Name returns the namespace's name.
func (ns *Namespace) Name() string { return ns.name }

// SetCode sets the client-side Clojure code evaluated in this namespace
// when the pod is loaded. It is shipped as the code of a var named "_".
func (ns *Namespace) SetCode(code string) *Namespace {
	ns.code = code
	return ns
}

// Add registers v in the namespace. Registering a name twice panics: it is
// a programming error found at start-up.
func (ns *Namespace) Add(v *Var) *Namespace {
	full := ns.name + "/" + v.Name
	if _, dup := ns.srv.vars[full]; dup {
		panic("pod: var registered twice: " + full)
	}
	if (v.Fn == nil) == (v.Stream == nil) {
		panic("pod: var needs exactly one of Fn and Stream: " + full)
	}
	for _, a := range v.Arglists {
		// A malformed arglist would make the client's describe fail.
		var vec []any
		if err := edn.UnmarshalString(a, &vec); err != nil {
			panic(fmt.Sprintf("pod: arglist %q of %s is not an EDN vector: %v", a, full, err))
		}
	}
	ns.vars = append(ns.vars, v)
	ns.srv.vars[full] = v
	return ns
}

// meta renders the var's metadata map as EDN for describe.
func (v *Var) meta() string {
	var b strings.Builder
	b.WriteString("{")
	if v.Doc != "" {
		doc, _ := edn.Marshal(v.Doc)
		b.WriteString(":doc ")
		b.Write(doc)
	}
	if len(v.Arglists) > 0 {
		b.WriteString(" :arglists (")
		b.WriteString(strings.Join(v.Arglists, " "))
		b.WriteString(")")
	}
	b.WriteString("}")
	return b.String()
}

// describe builds the describe reply.
func (s *Server) describe() map[string]any {
	namespaces := []any{map[string]any{"name": s.opts.ID, "vars": []any{}}}
	for _, ns := range s.namespaces {
		vars := []any{}
		for _, v := range ns.vars {
			entry := map[string]any{"name": v.Name, "meta": v.meta()}
			vars = append(vars, entry)
		}
		if ns.code != "" {
			vars = append(vars, map[string]any{"name": "_", "code": ns.code})
		}
		namespaces = append(namespaces, map[string]any{"name": ns.name, "vars": vars})
	}
	return map[string]any{
		"format":     "edn",
		"namespaces": namespaces,
		"ops":        map[string]any{"shutdown": map[string]any{}},
	}
}
