package bbssh

import (
	"errors"
	"fmt"
)

// Kind classifies errors so that callers can branch and the pod can give
// each a :type.
type Kind string

// Error kinds.
const (
	KindConnect        Kind = "connect-failed"
	KindAuth           Kind = "auth-failed"
	KindHostKeyUnknown Kind = "host-key-unknown"
	KindHostKeyChanged Kind = "host-key-changed"
	KindHostKeyRevoked Kind = "host-key-revoked"
	KindNotConnected   Kind = "not-connected"
	KindBadOption      Kind = "bad-option"
	KindExec           Kind = "exec-failed"
	KindClosed         Kind = "closed"
	KindForward        Kind = "forward-failed"
)

// Error is an engine error with a kind. Its message never contains a
// password, passphrase or key material.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "bbssh: " + e.Msg + ": " + e.Err.Error()
	}
	return "bbssh: " + e.Msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func errorf(kind Kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// KindOf returns the kind of err, or "" when it has none.
func KindOf(err error) Kind {
	var hk *HostKeyError
	if errors.As(err, &hk) {
		return hk.Kind
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// HostKeyError reports a server host key that was not accepted.
type HostKeyError struct {
	Kind        Kind // KindHostKeyUnknown, KindHostKeyChanged or KindHostKeyRevoked
	Host        string
	KeyType     string
	Fingerprint string // SHA256:...
	KnownHosts  []string
	Reason      string
}

func (e *HostKeyError) Error() string {
	switch e.Kind {
	case KindHostKeyChanged:
		reason := e.Reason
		if reason == "" {
			reason = "refusing to connect"
		}
		return fmt.Sprintf("bbssh: REMOTE HOST IDENTIFICATION HAS CHANGED for %s: the %s key it sent has fingerprint %s, which does not match %v; %s",
			e.Host, e.KeyType, e.Fingerprint, e.KnownHosts, reason)
	case KindHostKeyRevoked:
		return fmt.Sprintf("bbssh: host key for %s is revoked (%s %s); refusing to connect", e.Host, e.KeyType, e.Fingerprint)
	default:
		return fmt.Sprintf("bbssh: unknown host key for %s: %s key fingerprint is %s; %s",
			e.Host, e.KeyType, e.Fingerprint, e.Reason)
	}
}
