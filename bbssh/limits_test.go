package bbssh

import (
	"context"
	"strings"
	"testing"
)

// Strings too long for one SSH request are refused before anything is
// sent: OpenSSH drops the whole connection on a packet over 256 KiB.
func TestRequestStringLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	fwd := ForwardSpec{ListenPort: 0, TargetHost: "db", TargetPort: 5432}
	with := func(f func(*ForwardSpec)) ForwardSpec { s := fwd; f(&s); return s }
	tests := []struct {
		name string
		err  error
		why  string // "" when within the limits
	}{
		{"command at the limit", ExecOptions{Command: long(MaxCommandLen)}.validate(), ""},
		{"command past the limit", ExecOptions{Command: long(MaxCommandLen + 1)}.validate(), "command of 131072 bytes is too long (at most 131071)"},
		{"10 MiB command", ExecOptions{Command: long(10 << 20)}.validate(), "command of 10485760 bytes"},
		{"environment value", ExecOptions{Env: map[string]string{"A": long(MaxCommandLen)}}.validate(), "environment variable A of 131073 bytes"},
		{"environment name", ExecOptions{Env: map[string]string{long(MaxCommandLen): ""}}.validate(), "environment variable " + long(64) + "... of 131072 bytes"},
		{"terminal type", ExecOptions{Pty: true, Term: long(2000)}.validate(), "terminal type of 2000 bytes"},
		{"forward within the limits", with(func(s *ForwardSpec) { s.TargetHost = long(MaxHostLen) }).validate(), ""},
		{"forward target host", with(func(s *ForwardSpec) { s.TargetHost = long(MaxHostLen + 1) }).validate(), "target host of 1025 bytes"},
		{"forward bind address", with(func(s *ForwardSpec) { s.BindAddress = long(5000) }).validate(), "bind address of 5000 bytes"},
		{"forward socket path", with(func(s *ForwardSpec) { s.TargetUnix = "/" + long(MaxPathLen) }).validate(), "target socket path of 4097 bytes"},
		{"listening socket path", with(func(s *ForwardSpec) { s.ListenUnix = "/" + long(MaxPathLen) }).validate(), "listening socket path of 4097 bytes"},
		{"spec string", second(ParseForwardSpec(LocalForward, "8080:db:"+long(10<<20))), "local forward spec of 10485768 bytes"},
		// found by FuzzParseForwardSpec: a spec that parses must be valid
		{"host in a spec string", second(ParseForwardSpec(LocalForward, "8080:"+long(2000)+":80")), "target host of 2000 bytes"},
		{"host name", NewSession(Options{Host: long(10 << 20), Port: 22, User: "u", NoConfig: true}).Connect(context.Background()), "host name of 10485760 bytes"},
		{"user name", NewSession(Options{Host: "127.0.0.1", Port: 1, User: long(2000), NoConfig: true}).Connect(context.Background()), "user name of 2000 bytes"},
	}
	for _, tt := range tests {
		switch {
		case tt.why == "" && tt.err != nil:
			t.Errorf("%s: %v", tt.name, tt.err)
		case tt.why != "" && (tt.err == nil || KindOf(tt.err) != KindBadOption || !strings.Contains(tt.err.Error(), tt.why)):
			t.Errorf("%s: error %v, want a %s error saying %q", tt.name, tt.err, KindBadOption, tt.why)
		case tt.err != nil && len(tt.err.Error()) > 200:
			t.Errorf("%s: the error echoes the long value (%d bytes)", tt.name, len(tt.err.Error()))
		}
	}
}

func second[T any](_ T, err error) error { return err }
