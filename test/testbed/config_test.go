package testbed

import (
	"strings"
	"testing"
)

func TestSplitLine(t *testing.T) {
	for _, tc := range []struct{ line, kw, value string }{
		{"UsePAM no", "usepam", "no"},
		{"  usepam=yes ", "usepam", "yes"},
		{"ChallengeResponseAuthentication no", "kbdinteractiveauthentication", "no"},
		{"# UsePAM no", "", ""},
		{"", "", ""},
		{"AcceptEnv\tFOO BAR", "acceptenv", "FOO BAR"},
	} {
		if kw, v := splitLine(tc.line); kw != tc.kw || v != tc.value {
			t.Errorf("splitLine(%q) = %q, %q; want %q, %q", tc.line, kw, v, tc.kw, tc.value)
		}
	}
}

func TestRenderConfig(t *testing.T) {
	base := configParams{port: 2222, pidFile: "/d/pid", hostKeys: []string{"/d/k1", "/d/k2"}, authorizedKeys: "/d/ak/%u", usePAM: true}
	for _, tc := range []struct {
		name, extra string
		contains    []string
		absent      []string
		wantErr     bool
	}{
		{name: "defaults", contains: []string{"ListenAddress 127.0.0.1:2222\n", "HostKey /d/k2\n", "UsePAM yes\n", "AuthorizedKeysFile /d/ak/%u\n", "GatewayPorts clientspecified\n"}},
		{name: "override", extra: "UsePAM no\nAcceptEnv FOO", contains: []string{"UsePAM no\n", "AcceptEnv FOO\n"}, absent: []string{"UsePAM yes", "AcceptEnv LANG"}},
		{name: "match-last", extra: "Match User x\nUsePAM no\n", contains: []string{"UsePAM yes\n", "Match User x\nUsePAM no\n"}},
		{name: "managed", extra: "HostKey /etc/ssh/k", wantErr: true},
		{name: "managed-eq", extra: "port=22", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			p.extra = tc.extra
			cfg, err := renderConfig(p)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			for _, s := range tc.contains {
				if !strings.Contains(cfg, s) {
					t.Errorf("missing %q in:\n%s", s, cfg)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(cfg, s) {
					t.Errorf("unexpected %q in:\n%s", s, cfg)
				}
			}
			if tc.name == "match-last" && !strings.HasSuffix(cfg, "Match User x\nUsePAM no\n") {
				t.Errorf("Match block not at end:\n%s", cfg)
			}
		})
	}
}

func TestWantPAM(t *testing.T) {
	root := account{name: "u", password: "p", root: true}
	for _, tc := range []struct {
		name      string
		acct      account
		extra     string
		pam, prob bool
	}{
		{"root", root, "", true, true},
		{"non-root", account{name: "u"}, "", false, false},
		{"forced-off", root, "UsePAM no", false, false},
		{"forced-on-no-probe", root, "UsePAM yes", true, false},
		{"auth-methods-no-probe", root, "AuthenticationMethods publickey", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pam := wantPAM(tc.acct, tc.extra)
			if pam != tc.pam {
				t.Errorf("wantPAM = %v, want %v", pam, tc.pam)
			}
			if got := shouldProbePAM(pam, tc.acct, tc.extra); got != tc.prob {
				t.Errorf("shouldProbePAM = %v, want %v", got, tc.prob)
			}
		})
	}
}
