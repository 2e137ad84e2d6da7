package pod

import (
	"errors"
	"fmt"
	"strings"

	"olympos.io/encoding/edn"
)

// Error is an error with the data the client turns into an ex-info: a
// message, a :type keyword and any further ex-data. Handlers return it (or
// wrap it) to control what the client sees; any other error is reported
// with the server's default type.
type Error struct {
	// Type is the :type keyword without the colon, e.g. "bbssh/auth-failed".
	Type string
	// Message is the ex-message.
	Message string
	// Data holds further ex-data entries, keyed by keyword name.
	Data map[string]any
	// Err is the underlying cause, if any; it is not sent to the client.
	Err error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given type with a formatted message. A %w
// verb in format sets the cause.
func Errorf(typ, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Type: typ, Message: err.Error(), Err: errors.Unwrap(err)}
}

// With returns e with one more ex-data entry.
func (e *Error) With(key string, value any) *Error {
	if e.Data == nil {
		e.Data = map[string]any{}
	}
	e.Data[key] = value
	return e
}

// exData renders the ex-data map of err, giving it defaultType when err
// carries no type of its own.
func exData(err error, defaultType string) (message string, data map[edn.Keyword]any) {
	data = map[edn.Keyword]any{}
	var pe *Error
	if errors.As(err, &pe) {
		for k, v := range pe.Data {
			data[edn.Keyword(k)] = v
		}
		data["type"] = edn.Keyword(qualify(pe.Type, defaultType))
		// The outer message keeps any context added by wrapping.
		return err.Error(), data
	}
	data["type"] = edn.Keyword(defaultType)
	return err.Error(), data
}

// qualify puts an unqualified type name into the namespace of defaultType:
// "bad-argument" becomes "bbssh/bad-argument" when the default type is
// "bbssh/error". An empty type gives defaultType.
func qualify(typ, defaultType string) string {
	if typ == "" {
		return defaultType
	}
	if strings.Contains(typ, "/") {
		return typ
	}
	if ns, _, ok := strings.Cut(defaultType, "/"); ok {
		return ns + "/" + typ
	}
	return typ
}
