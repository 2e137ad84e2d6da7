package pod

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"olympos.io/encoding/edn"
)

func TestDecodeArgsLimits(t *testing.T) {
	nest := func(open, close string, n int) string {
		return "[" + strings.Repeat(open, n) + strings.Repeat(close, n) + "]"
	}
	tests := []struct {
		name, src string
		why       string // "" when the arguments decode
	}{
		{"vector at the limit", nest("[", "]", MaxArgsDepth-1), ""},
		{"vector past the limit", nest("[", "]", MaxArgsDepth), "nested deeper than 1000 levels"},
		{"lists", nest("(", ")", MaxArgsDepth), "nested deeper than 1000 levels"},
		{"sets", nest("#{", "}", MaxArgsDepth), "nested deeper than 1000 levels"},
		{"maps", nest("{:a ", "}", MaxArgsDepth), "nested deeper than 1000 levels"},
		// 40 million levels crashed the pod: the decoder's recursion ran
		// out of goroutine stack, which recover cannot catch.
		{"forty million levels", nest("[", "]", 40_000_000), "nested deeper than 1000 levels"},
		{"brackets in a string", `["` + strings.Repeat("[", 5000) + `"]`, ""},
		{"escaped quote in a string", `["\"` + strings.Repeat("[", 5000) + `"]`, ""},
		{"character literals", "[" + strings.Repeat(`\[ `, 5000) + "]", ""},
		{"comment", "[1 ;" + strings.Repeat("[", 5000) + "\n 2]", ""},
		{"tags at the limit", "[" + strings.Repeat("#_ 1 ", MaxArgsDispatch) + "]", ""},
		{"chained tags past the limit", "[" + strings.Repeat("#a ", MaxArgsDispatch+1) + "1]", "more than 10000 tagged literals"},
		{"discards past the limit", "[" + strings.Repeat("#_ ", 20_000_000) + "1 2]", "more than 10000 tagged literals"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, err := decodeArgs(tt.src)
			if tt.why == "" {
				if err != nil || args == nil {
					t.Fatalf("decodeArgs: %v, %v", args, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("decodeArgs error %v, want %q", err, tt.why)
			}
		})
	}
}

func TestArgsAccessorsNameTheArgument(t *testing.T) {
	args, err := decodeArgs(`["s" 7 {:port "22" :n 1.5 :ok false} :kw nil 9007199254740993.0 99999999999999999999N \a #inst "2020-01-01T00:00:00Z"]`)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := args.Map(2)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"string as int", second(args.Int(0)), `argument 1 must be an integer, got string "s"`},
		{"int as string", second(args.String(1)), "argument 2 must be a string, got integer 7"},
		{"int as map", second(args.Map(1)), "argument 2 must be a map, got integer 7"},
		{"keyword as string", second(args.String(3)), "argument 4 must be a string, got keyword :kw"},
		{"missing argument", second(args.String(9)), "argument 10 must be a string, got nil"},
		{"negative index", second(args.Int(-1)), "argument 0 must be an integer, got nil"},
		{"float beyond 2^53", second(args.Int(5)), "argument 6 must be an integer, got float 9.007199254740992e+15"},
		{"big integer", second(args.Int(6)), "argument 7 is out of range, got integer 99999999999999999999"},
		{"character", second(args.String(7)), "argument 8 must be a string, got a character"},
		{"instant", second(args.Map(8)), "argument 9 must be a map, got an instant"},
		{"option of the wrong type", second(m.Int("port", 0)), `:port must be an integer, got string "22"`},
		{"fractional option", second(m.Int("n", 0)), ":n must be an integer, got float 1.5"},
	}
	for _, tt := range tests {
		var pe *Error
		if !errors.As(tt.err, &pe) || pe.Type != BadArgument || pe.Message != tt.want {
			t.Errorf("%s: %v (%T), want a %s error %q", tt.name, tt.err, tt.err, BadArgument, tt.want)
		}
	}
	if m.Bool("ok", true) || !m.Bool("absent", true) || !m.Bool("port", false) {
		t.Errorf("Bool: false, absent and non-boolean values misread")
	}
}

func second[T any](_ T, err error) error { return err }

// FuzzDecodeArgs checks the EDN argument decoding and the accessors the
// vars read arguments with: no input panics or nests past the limits, and
// every wrong type is a bad-argument error naming the argument.
func FuzzDecodeArgs(f *testing.F) {
	for _, seed := range []string{
		`[]`, `[1 "two" :three nil true 4.5]`, `[:bbssh/session-1 "echo hi" {:out :capture :env {"A" "b"}}]`,
		`["h" {:port 22 :proxy {:type :socks5 :host "p" :port 1080}}]`,
		`[[{:path "/tmp/x"} {:name "n" :data-base64 "aGk=" :mode 420}]]`,
		`[#{1 2} (1 2) \a "\"" ; comment` + "\n]", `[#inst "2020-01-01T00:00:00Z" #uuid "00000000-0000-0000-0000-000000000000"]`,
		`[#_ 1 2]`, `[1 {:a]`, `{:a 1}`, `[{[1] 2}]`, `[{nil nil}]`, `[1e999 -0.0 9223372036854775808 -9223372036854775809]`,
		`[\u0000 \newline "\u00e9"]`, `[##Inf ##NaN]`, `[1/2 0x10 1N 1M]`, `[:a/b/c a/b #a/b c]`,
		"[" + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + "]",
		"[" + strings.Repeat("#a ", 100) + "1]",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		args, err := decodeArgs(src)
		if err != nil {
			return
		}
		if d := depthOf([]any(args)); d > MaxArgsDepth {
			t.Fatalf("%q decoded %d levels deep, past the limit of %d", src, d, MaxArgsDepth)
		}
		reg := NewRegistry("bbssh")
		for i := -1; i <= args.Len()+1; i++ {
			what := fmt.Sprintf("argument %d ", i+1)
			checkBadArg(t, what, second(args.String(i)))
			checkBadArg(t, what, second(args.Int(i)))
			checkBadArg(t, what, second(args.Map(i)))
			if _, err := reg.Get("session", args.Get(i)); err == nil {
				t.Fatalf("argument %d: an empty registry found a session", i+1)
			}
			exercise(t, args.Get(i), 0)
		}
		edn.Marshal([]any(args)) // replies echo values back
	})
}

// checkBadArg fails unless err is nil or a bad-argument error naming what.
func checkBadArg(t *testing.T, what string, err error) {
	t.Helper()
	var pe *Error
	if err != nil && (!errors.As(err, &pe) || pe.Type != BadArgument || !strings.HasPrefix(pe.Message, what)) {
		t.Fatalf("error %v (%T) is not a %s error about %q", err, err, BadArgument, what)
	}
}

// exercise reads v with every accessor, as vars do with options.
func exercise(t *testing.T, v any, depth int) {
	if depth > MaxArgsDepth {
		return
	}
	_, _ = TypeName(v), Describe(v)
	checkBadArg(t, "x ", second(AsString("x", v)))
	checkBadArg(t, "x ", second(AsInt("x", v)))
	checkBadArg(t, "x ", second(AsKeyword("x", v)))
	m, err := AsMap("x", v)
	checkBadArg(t, "x ", err)
	for _, k := range m.Keys() {
		checkBadArg(t, ":"+k+" ", second(m.String(k, "")))
		checkBadArg(t, ":"+k+" ", second(m.Int(k, 0)))
		m.Bool(k, false)
		m.Has(k)
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			exercise(t, e, depth+1)
		}
	case map[any]any:
		for k, e := range x {
			exercise(t, k, depth+1)
			exercise(t, e, depth+1)
		}
	}
}

// depthOf is the nesting of collections in v: 0 for a scalar, 1 for a
// collection of scalars.
func depthOf(v any) int {
	deepest := 0
	visit := func(e any) { deepest = max(deepest, depthOf(e)) }
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			visit(e)
		}
	case map[any]any:
		for k, e := range x {
			visit(k)
			visit(e)
		}
	case map[any]bool:
		for k := range x {
			visit(k)
		}
	case edn.Tag:
		visit(x.Value)
		return deepest // a tag is not a collection
	default:
		return 0
	}
	return deepest + 1
}
