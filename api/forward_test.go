package api

import (
	"strings"
	"testing"
	"time"

	"bbssh/bbssh"
	"bbssh/pod"
)

// TestForwardTimeoutSpellings: bbssh 0.6 scripts write :connection-timeout
// in forward maps; it counts as :connect-timeout, for every kind.
func TestForwardTimeoutSpellings(t *testing.T) {
	local := pod.Map{kw("local-port"): int64(0), kw("remote-host"): "db", kw("remote-port"): int64(5432)}
	remote := pod.Map{kw("remote-port"): int64(0), kw("local-host"): "localhost", kw("local-port"): int64(80)}
	dynamic := pod.Map{kw("local-port"): int64(0)}
	with := func(m pod.Map, kv ...any) pod.Map {
		out := pod.Map{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kw(kv[i].(string))] = kv[i+1]
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		kind    bbssh.ForwardKind
		m       pod.Map
		want    time.Duration
		wantErr string
	}{
		{"local, 0.6 spelling", bbssh.LocalForward, with(local, "connection-timeout", int64(30000)), 30 * time.Second, ""},
		{"local, bbssh spelling", bbssh.LocalForward, with(local, "connect-timeout", int64(1500)), 1500 * time.Millisecond, ""},
		{"local, none", bbssh.LocalForward, local, 0, ""},
		{"remote, 0.6 spelling", bbssh.RemoteForward, with(remote, "connection-timeout", int64(250)), 250 * time.Millisecond, ""},
		{"dynamic, 0.6 spelling", bbssh.DynamicForward, with(dynamic, "connection-timeout", int64(1000)), time.Second, ""},
		{"both spellings", bbssh.LocalForward, with(local, "connect-timeout", int64(1), "connection-timeout", int64(1)), 0, "not both"},
		{"negative", bbssh.RemoteForward, with(remote, "connection-timeout", int64(-1)), 0, ":connection-timeout must be >= 0"},
		{"not a number", bbssh.LocalForward, with(local, "connection-timeout", "soon"), 0, "connection-timeout"},
	} {
		spec, err := parseForward(tc.kind, tc.m)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr == "" && spec.ConnectTimeout != tc.want:
			t.Errorf("%s: timeout %v, want %v", tc.name, spec.ConnectTimeout, tc.want)
		}
	}
}
