package pod

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"
	"time"

	"olympos.io/encoding/edn"
)

// Args are the decoded arguments of one invoke. Values have the types the
// EDN decoder produces: nil, bool, int64, float64, string, edn.Keyword,
// edn.Symbol, []any (vectors and lists), map[any]any (maps) and
// map[any]bool (sets).
type Args []any

// decodeArgs parses the EDN args string of an invoke into Args.
func decodeArgs(src string) (args Args, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("edn decoder failed: %v", p)
		}
	}()
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	if err := checkEDNLimits(src, MaxArgsDepth, MaxArgsDispatch); err != nil {
		return nil, err
	}
	var v any
	if err := edn.UnmarshalString(src, &v); err != nil {
		return nil, err
	}
	if v == nil {
		// babashka.pods sends (pr-str args) of a variadic fn: a call with
		// no arguments arrives as "nil", not "()".
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("args must be a vector, got %s", TypeName(v))
	}
	return Args(list), nil
}

// Len returns the number of arguments.
func (a Args) Len() int { return len(a) }

// Get returns argument i, or nil when there are fewer arguments.
func (a Args) Get(i int) any {
	if i < 0 || i >= len(a) {
		return nil
	}
	return a[i]
}

// String returns argument i as a string.
func (a Args) String(i int) (string, error) {
	return AsString(fmt.Sprintf("argument %d", i+1), a.Get(i))
}

// Int returns argument i as an integer.
func (a Args) Int(i int) (int64, error) {
	return AsInt(fmt.Sprintf("argument %d", i+1), a.Get(i))
}

// Map returns argument i as an option map; nil gives an empty map.
func (a Args) Map(i int) (Map, error) {
	return AsMap(fmt.Sprintf("argument %d", i+1), a.Get(i))
}

// Map is an EDN map whose keys are looked up by keyword name.
type Map map[any]any

// Get returns the value under the keyword key, and whether it was present.
func (m Map) Get(key string) (any, bool) {
	v, ok := m[edn.Keyword(key)]
	return v, ok
}

// Has reports whether key is present with a value other than nil.
func (m Map) Has(key string) bool {
	v, ok := m.Get(key)
	return ok && v != nil
}

// Keys returns the keyword keys of m, sorted, as strings without the colon.
// Keys that are not keywords are returned in EDN form.
func (m Map) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if kw, ok := k.(edn.Keyword); ok {
			keys = append(keys, string(kw))
		} else {
			keys = append(keys, fmt.Sprintf("%v", k))
		}
	}
	sort.Strings(keys)
	return keys
}

// String returns option key as a string; absent or nil gives def.
func (m Map) String(key, def string) (string, error) {
	v, ok := m.Get(key)
	if !ok || v == nil {
		return def, nil
	}
	return AsString(":"+key, v)
}

// Int returns option key as an integer; absent or nil gives def.
func (m Map) Int(key string, def int64) (int64, error) {
	v, ok := m.Get(key)
	if !ok || v == nil {
		return def, nil
	}
	return AsInt(":"+key, v)
}

// Bool returns option key as a boolean; absent or nil gives def. Any value
// other than false and nil counts as true, as in Clojure.
func (m Map) Bool(key string, def bool) bool {
	v, ok := m.Get(key)
	if !ok || v == nil {
		return def
	}
	b, isBool := v.(bool)
	return !isBool || b
}

// BadArgument is the error type of arguments of the wrong type or value.
const BadArgument = "bad-argument"

// AsString converts v to a string or explains, naming what, why it cannot.
func AsString(what string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", badArg("%s must be a string, got %s", what, Describe(v))
	}
	return s, nil
}

// AsInt converts v to an int64 or explains, naming what, why it cannot.
func AsInt(what string, v any) (int64, error) {
	switch n := v.(type) {
	case int64:
		return n, nil
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), nil
		}
	case big.Int:
		return 0, badArg("%s is out of range, got %s", what, Describe(v))
	}
	return 0, badArg("%s must be an integer, got %s", what, Describe(v))
}

// AsMap converts v to a Map or explains, naming what, why it cannot.
func AsMap(what string, v any) (Map, error) {
	switch m := v.(type) {
	case nil:
		return Map{}, nil
	case map[any]any:
		return Map(m), nil
	}
	return nil, badArg("%s must be a map, got %s", what, Describe(v))
}

// AsKeyword converts v to a keyword name (no colon) or explains why not.
func AsKeyword(what string, v any) (string, error) {
	kw, ok := v.(edn.Keyword)
	if !ok {
		return "", badArg("%s must be a keyword, got %s", what, Describe(v))
	}
	return string(kw), nil
}

// badArg builds an error of type BadArgument; the server qualifies the type
// with its error namespace.
func badArg(format string, args ...any) *Error {
	return Errorf(BadArgument, format, args...)
}

// TypeName names the Clojure type of a decoded EDN value.
func TypeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case bool:
		return "boolean"
	case int64, big.Int:
		return "integer"
	case float64:
		return "float"
	case string:
		return "string"
	case edn.Keyword:
		return "keyword"
	case edn.Symbol:
		return "symbol"
	case []any:
		return "vector"
	case map[any]any:
		return "map"
	case map[any]bool:
		return "set"
	case edn.Rune, rune:
		return "character"
	case time.Time:
		return "instant"
	case edn.Tag:
		return "tagged literal #" + x.Tagname
	default:
		return fmt.Sprintf("%T", v)
	}
}

// Describe renders a value for an error message: its type and, for short
// scalars, the value itself.
func Describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		if len(x) > 40 {
			return "a string"
		}
		return fmt.Sprintf("string %q", x)
	case edn.Keyword:
		return "keyword :" + string(x)
	case int64, float64, bool:
		return fmt.Sprintf("%s %v", TypeName(v), x)
	case big.Int:
		if s := x.String(); len(s) <= 40 {
			return "integer " + s
		}
		return "a big integer"
	default:
		name := TypeName(v)
		if strings.ContainsRune("aeiou", rune(name[0])) {
			return "an " + name
		}
		return "a " + name
	}
}
