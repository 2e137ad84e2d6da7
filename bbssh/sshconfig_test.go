package bbssh

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeSSHConfig writes text to a file named config in dir and returns
// its path.
func writeSSHConfig(t testing.TB, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadSSHConfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("BBSSH_TEST_KEYS", "/keys")
	inc := filepath.Join(t.TempDir(), "included")
	if err := os.WriteFile(inc, []byte("Host app\n  User from-include\n  Port 2022\n  IdentityFile /inc/key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yes, no := true, false

	tests := []struct {
		name   string
		config string
		host   string
		want   HostConfig // Warnings are checked with warn
		warn   []string   // a piece of each warning, in order
	}{
		{
			name:   "glob suffix",
			config: "Host *.example.com\n  User deploy\n  Port 2200\nHost *\n  User other\n",
			host:   "db.example.com",
			want:   HostConfig{User: "deploy", Port: 2200},
		},
		{
			name:   "glob suffix no match",
			config: "Host *.example.com\n  User deploy\nHost *\n  User other\n",
			host:   "example.com",
			want:   HostConfig{User: "other"},
		},
		{
			name:   "question mark is one character",
			config: "Host web?\n  User w\n",
			host:   "web1",
			want:   HostConfig{User: "w"},
		},
		{
			name:   "question mark needs a character",
			config: "Host web?\n  User w\n",
			host:   "web",
			want:   HostConfig{},
		},
		{
			name:   "question mark is not two",
			config: "Host web?\n  User w\n",
			host:   "web12",
			want:   HostConfig{},
		},
		{
			name:   "host name matches in lower case",
			config: "Host web1\n  User w\n",
			host:   "WEB1",
			want:   HostConfig{User: "w"},
		},
		{
			name:   "negation matches others",
			config: "Host * !bastion\n  ProxyJump bastion\n",
			host:   "app",
			want:   HostConfig{ProxyJump: []JumpHost{{Host: "bastion"}}},
		},
		{
			name:   "negation excludes",
			config: "Host * !bastion\n  ProxyJump bastion\n",
			host:   "bastion",
			want:   HostConfig{},
		},
		{
			name:   "settings before any Host apply to all",
			config: "User top\nHost app\n  User app\n",
			host:   "app",
			want:   HostConfig{User: "top"},
		},
		{
			name:   "first value wins",
			config: "Host app\n  User a\n  Port 1000\nHost *\n  User b\n  Port 2000\n  Ciphers aes128-ctr\n",
			host:   "app",
			want:   HostConfig{User: "a", Port: 1000, Ciphers: "aes128-ctr"},
		},
		{
			name:   "IdentityFile accumulates",
			config: "Host app\n  IdentityFile /k/one\n  IdentityFile /k/two\nHost *\n  IdentityFile /k/three\n",
			host:   "app",
			want:   HostConfig{IdentityFiles: []string{"/k/one", "/k/two", "/k/three"}},
		},
		{
			name: "tokens and tilde",
			config: "Host app\n  HostName real.example.com\n  User bob\n  Port 2222\n" +
				"  IdentityFile ~/.ssh/%r@%h:%p\n  IdentityFile %d/keys/%u-%n\n  IdentityFile ~\n" +
				"  IdentityFile ${BBSSH_TEST_KEYS}/%%h\n" +
				"  ProxyCommand nc %h %p %r %n %%\n",
			host: "app",
			want: HostConfig{HostName: "real.example.com", User: "bob", Port: 2222,
				IdentityFiles: []string{home + "/.ssh/bob@real.example.com:2222", home + "/keys/me-app", home, "/keys/%h"},
				ProxyCommand:  "nc real.example.com 2222 bob app %"},
		},
		{
			name:   "token defaults",
			config: "ProxyCommand ssh -W %h:%p -l %r gw\nIdentityFile /k/%u\n",
			host:   "app",
			want:   HostConfig{ProxyCommand: "ssh -W app:22 -l me gw", IdentityFiles: []string{"/k/me"}},
		},
		{
			name:   "HostName %h",
			config: "Host web*\n  HostName %h.internal\n",
			host:   "web1",
			want:   HostConfig{HostName: "web1.internal"},
		},
		{
			name:   "HostName %%",
			config: "HostName a%%b\n",
			host:   "x",
			want:   HostConfig{HostName: "a%b"},
		},
		{
			name: "Match user stripped, rest applies",
			config: "Host app\n  User a\nMatch user bob\n  Port 2000\n  IdentityFile /k/bob\n" +
				"Match exec \"true\"\n  Port 2001\nHost *\n  Port 3000\n",
			host: "app",
			want: HostConfig{User: "a", Port: 3000},
			warn: []string{`config:3: skipped Match block: criteria "user bob"`, `config:6: skipped Match block: criteria "exec \"true\""`},
		},
		{
			name:   "Match host with more criteria stripped",
			config: "Match host app user bob\n  Port 2000\nMatch localuser me\n  Port 2001\nHost *\n  Port 3000\n",
			host:   "app",
			want:   HostConfig{Port: 3000},
			warn:   []string{"config:1: skipped", "config:3: skipped"},
		},
		{
			name:   "Match without criteria stripped",
			config: "Port 1\nMatch\n  Port 2\n",
			host:   "app",
			want:   HostConfig{Port: 1},
			warn:   []string{`config:2: skipped Match block: criteria ""`},
		},
		{
			name:   "Match host kept",
			config: "Match host db,app\n  User m\nMatch host other\n  Port 1\nMatch all\n  Port 2\n",
			host:   "app",
			want:   HostConfig{User: "m", Port: 2},
		},
		{
			name:   "Include",
			config: "Include " + inc + "\nHost *\n  User b\n  IdentityFile /k/main\n",
			host:   "app",
			want:   HostConfig{User: "from-include", Port: 2022, IdentityFiles: []string{"/inc/key", "/k/main"}},
		},
		{
			name:   "Include not matching",
			config: "Include " + inc + "\nHost *\n  User b\n",
			host:   "db",
			want:   HostConfig{User: "b"},
		},
		{
			name:   "UserKnownHostsFile several",
			config: "UserKnownHostsFile ~/.ssh/kh_%h \"/etc/ssh/known hosts\"\n",
			host:   "app",
			want:   HostConfig{UserKnownHostsFiles: []string{home + "/.ssh/kh_app", "/etc/ssh/known hosts"}},
		},
		{
			name:   "UserKnownHostsFile none",
			config: "UserKnownHostsFile none\n",
			host:   "app",
			want:   HostConfig{UserKnownHostsFiles: []string{}},
		},
		{name: "StrictHostKeyChecking off", config: "StrictHostKeyChecking off\n", host: "a", want: HostConfig{StrictHostKeyChecking: "no"}},
		{name: "StrictHostKeyChecking FALSE", config: "StrictHostKeyChecking FALSE\n", host: "a", want: HostConfig{StrictHostKeyChecking: "no"}},
		{name: "StrictHostKeyChecking true", config: "StrictHostKeyChecking true\n", host: "a", want: HostConfig{StrictHostKeyChecking: "yes"}},
		{name: "StrictHostKeyChecking Yes", config: "StrictHostKeyChecking Yes\n", host: "a", want: HostConfig{StrictHostKeyChecking: "yes"}},
		{name: "StrictHostKeyChecking ask", config: "StrictHostKeyChecking ask\n", host: "a", want: HostConfig{StrictHostKeyChecking: "ask"}},
		{name: "StrictHostKeyChecking accept-new", config: "StrictHostKeyChecking = Accept-New\n", host: "a", want: HostConfig{StrictHostKeyChecking: "accept-new"}},
		{
			name:   "ProxyJump forms",
			config: "ProxyJump me@b1:2222,ssh://b2,ssh://u@[::1]:2200,[fe80::1]\n",
			host:   "app",
			want: HostConfig{ProxyJump: []JumpHost{{User: "me", Host: "b1", Port: 2222}, {Host: "b2"},
				{User: "u", Host: "::1", Port: 2200}, {Host: "fe80::1"}}},
		},
		{
			name:   "ProxyJump none",
			config: "Host app\n  ProxyJump none\nHost *\n  ProxyJump gw\n",
			host:   "app",
			want:   HostConfig{},
		},
		{
			name:   "ProxyJump first beats ProxyCommand",
			config: "Host app\n  ProxyJump gw\nHost *\n  ProxyCommand nc %h %p\n",
			host:   "app",
			want:   HostConfig{ProxyJump: []JumpHost{{Host: "gw"}}},
		},
		{
			name:   "ProxyCommand none beats later ProxyJump",
			config: "Host app\n  ProxyCommand none\nHost *\n  ProxyJump gw\n",
			host:   "app",
			want:   HostConfig{},
		},
		{
			name: "forwards",
			config: "LocalForward 8080 db:5432\nLocalForward [::1]:8081 [::1]:80\n" +
				"LocalForward /tmp/%u.sock /var/run/docker.sock\nLocalForward *:9000 /run/app.sock\n" +
				"RemoteForward 9000\nRemoteForward 0.0.0.0:8080 localhost:80\nRemoteForward /tmp/r.sock [::1]:22\n" +
				"DynamicForward 1080\nDynamicForward [::1]:1081\n",
			host: "app",
			want: HostConfig{
				LocalForwards: []ForwardSpec{
					{ListenPort: 8080, TargetHost: "db", TargetPort: 5432},
					{BindAddress: "::1", ListenPort: 8081, TargetHost: "::1", TargetPort: 80},
					{ListenUnix: "/tmp/me.sock", TargetUnix: "/var/run/docker.sock"},
					{BindAddress: "*", ListenPort: 9000, TargetUnix: "/run/app.sock"},
				},
				RemoteForwards: []ForwardSpec{
					{Remote: true, Dynamic: true, ListenPort: 9000},
					{Remote: true, BindAddress: "0.0.0.0", ListenPort: 8080, TargetHost: "localhost", TargetPort: 80},
					{Remote: true, ListenUnix: "/tmp/r.sock", TargetHost: "::1", TargetPort: 22},
				},
				DynamicForwards: []ForwardSpec{
					{Dynamic: true, ListenPort: 1080},
					{Dynamic: true, BindAddress: "::1", ListenPort: 1081},
				},
			},
		},
		{
			name: "scalars",
			config: "Host app\n  IdentitiesOnly YES\n  ConnectTimeout 10\n  ServerAliveInterval 1m30s\n  ServerAliveCountMax 0\n" +
				"  KexAlgorithms +diffie-hellman-group14-sha1\n  MACs hmac-sha2-256\n  HostKeyAlgorithms ssh-ed25519\n",
			host: "app",
			want: HostConfig{IdentitiesOnly: &yes, ConnectTimeout: 10 * time.Second, ServerAliveInterval: 90 * time.Second,
				KexAlgorithms: "+diffie-hellman-group14-sha1", MACs: "hmac-sha2-256", HostKeyAlgorithms: "ssh-ed25519"},
		},
		{
			name:   "IdentitiesOnly no",
			config: "IdentitiesOnly no\nServerAliveCountMax 5\nConnectionAttempts 3\n",
			host:   "app",
			want:   HostConfig{IdentitiesOnly: &no, ServerAliveCountMax: 5, ConnectionAttempts: 3},
		},
		{
			name:   "no defaults",
			config: "# nothing here\n\nHost other\n  User x\n",
			host:   "app",
			want:   HostConfig{},
		},
		{
			name:   "comments and equals",
			config: "Host app # the app\n  User=eve # comment\n  Port = 2022\n",
			host:   "app",
			want:   HostConfig{User: "eve", Port: 2022},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeSSHConfig(t, t.TempDir(), tt.config)
			got, err := ReadSSHConfig(path, tt.host, "me")
			if err != nil {
				t.Fatalf("ReadSSHConfig: %v", err)
			}
			warnings := got.Warnings
			got.Warnings = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReadSSHConfig(%q)\n got %+v\nwant %+v", tt.host, got, tt.want)
			}
			if len(warnings) != len(tt.warn) {
				t.Fatalf("warnings %q, want ones containing %q", warnings, tt.warn)
			}
			for i, w := range tt.warn {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %q does not contain %q", warnings[i], w)
				}
			}
		})
	}
}

func TestReadSSHConfigErrors(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	tests := []struct {
		name   string
		config string
		why    string // a piece of the message
	}{
		{"port zero", "Host app\n  Port 0\n", `config:2: Port "0"`},
		{"port too big", "Port 70000\n", "out of range"},
		{"port not a number", "Port ssh\n", "not a number"},
		{"local forward one field", "LocalForward 8080\n", `config:1: LocalForward "8080"`},
		{"local forward bad target", "LocalForward 8080 db\n", "bad local forward spec"},
		{"remote forward three fields", "RemoteForward 1 2 3\n", "RemoteForward"},
		{"dynamic forward with target", "DynamicForward 1080 db:80\n", "DynamicForward"},
		{"forward bad port", "DynamicForward 99999\n", "out of range"},
		{"strict host key checking", "StrictHostKeyChecking maybe\n", "want yes, no, ask or accept-new"},
		{"identities only", "IdentitiesOnly sometimes\n", "want yes or no"},
		{"proxy jump empty hop", "ProxyJump a,,b\n", `hop ""`},
		{"proxy jump bad port", "ProxyJump a:0\n", "out of range"},
		{"unknown token", "IdentityFile /k/%z\n", "unknown token %z"},
		{"lone percent", "ProxyCommand nc %\n", "lone %"},
		{"HostName token", "HostName %p.example\n", "unknown token %p"},
		{"unset variable", "IdentityFile ${BBSSH_SURELY_UNSET_VAR}/k\n", "BBSSH_SURELY_UNSET_VAR"},
		{"connect timeout", "ConnectTimeout soon\n", "ConnectTimeout"},
		{"server alive interval unit", "ServerAliveInterval 5x\n", "unknown unit"},
		{"server alive count negative", "ServerAliveCountMax -1\n", "not a count"},
		{"connection attempts zero", "ConnectionAttempts 0\n", "not a count of at least 1"},
		{"unterminated quote", "UserKnownHostsFile \"/a b\n", "unterminated quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeSSHConfig(t, t.TempDir(), tt.config)
			got, err := ReadSSHConfig(path, "app", "me")
			if err == nil {
				t.Fatalf("no error; got %+v", got)
			}
			t.Log(err)
			if KindOf(err) != KindBadOption {
				t.Errorf("kind %q, want %q: %v", KindOf(err), KindBadOption, err)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, tt.why) {
				t.Errorf("error %q does not name %s and %q", msg, path, tt.why)
			}
			if !reflect.DeepEqual(got, HostConfig{}) {
				t.Errorf("got %+v with the error, want zero", got)
			}
		})
	}
}

func TestReadSSHConfigMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope")
	_, err := ReadSSHConfig(path, "app", "me")
	t.Log(err)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want one matching fs.ErrNotExist", err)
	}
	if KindOf(err) != KindBadOption || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v (kind %q), want kind %q naming %s", err, KindOf(err), KindBadOption, path)
	}
}

func TestReadSSHConfigBadInclude(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc")
	if err := os.WriteFile(inc, []byte("Match user bob\n  Port 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeSSHConfig(t, dir, "Include "+inc+"\n")
	_, err := ReadSSHConfig(path, "app", "me")
	t.Log(err)
	if KindOf(err) != KindBadOption || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want a %s error naming %s", err, KindBadOption, path)
	}
}

func TestSSHConfigParseJumpHosts(t *testing.T) {
	tests := []struct {
		in   string
		want []JumpHost
	}{
		{"none", nil},
		{"NONE", nil},
		{"bastion", []JumpHost{{Host: "bastion"}}},
		{"bastion,me@b2:2222", []JumpHost{{Host: "bastion"}, {User: "me", Host: "b2", Port: 2222}}},
		{"ssh://me@b2:2222", []JumpHost{{User: "me", Host: "b2", Port: 2222}}},
		{"ssh://b2/", []JumpHost{{Host: "b2"}}},
		{"[::1]:2222", []JumpHost{{Host: "::1", Port: 2222}}},
		{"u@[fe80::1%eth0]", []JumpHost{{User: "u", Host: "fe80::1%eth0"}}},
		{"a@b@c:22", []JumpHost{{User: "a@b", Host: "c", Port: 22}}},
		{"10.0.0.1:65535", []JumpHost{{Host: "10.0.0.1", Port: 65535}}},
	}
	for _, tt := range tests {
		got, err := ParseJumpHosts(tt.in)
		if err != nil {
			t.Errorf("ParseJumpHosts(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseJumpHosts(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestSSHConfigParseJumpHostsRejects(t *testing.T) {
	tests := []struct{ in, why string }{
		{"", "empty"},
		{"a,,b", "empty"},
		{"a,", "empty"},
		{"a b", "space"},
		{" a", "space"},
		{"a:0", "out of range"},
		{"a:65536", "out of range"},
		{"a:ssh", "not a number"},
		{"a:", "port is empty"},
		{"@a", "user is empty"},
		{"me@", "host is empty"},
		{":22", "host is empty"},
		{"::1", "brackets"},
		{"[::1", "never closed"},
		{"[::1]x", "closing bracket"},
		{"[]:22", "host is empty"},
		{"ssh://a/b", "'/'"},
		{"http://a", "'/'"},
	}
	for _, tt := range tests {
		_, err := ParseJumpHosts(tt.in)
		if err == nil {
			t.Errorf("ParseJumpHosts(%q): no error", tt.in)
			continue
		}
		if KindOf(err) != KindBadOption || !strings.Contains(err.Error(), tt.why) || !strings.Contains(err.Error(), "ProxyJump") {
			t.Errorf("ParseJumpHosts(%q): %v; want a %s error containing %q", tt.in, err, KindBadOption, tt.why)
		}
	}
}

func FuzzReadSSHConfig(f *testing.F) {
	for _, seed := range []string{
		"",
		"Host *\n  User u\n",
		"Host web? !bastion\n  HostName %h.internal\n  Port 22\n  IdentityFile ~/.ssh/%r@%h\n",
		"Match user bob\n  Port 1\nMatch host a,b\nMatch all\n",
		"Match\nMatch host\nMatch host ,\nMatch = host x\nMatch=all\n",
		"LocalForward [::1]:8080 [::1]:80\nRemoteForward /a /b\nDynamicForward 1080\n",
		"ProxyJump ssh://u@[::1]:22,b\nProxyCommand nc %h %p %%\n",
		"UserKnownHostsFile \"a b\" c\nStrictHostKeyChecking accept-new\n",
		"Host\n=\n==\n\"\n#\n\r\rHost x\r\n  User=\n",
		"Port 99999999999999999999\nConnectTimeout 99999999999w\n",
		"IdentityFile ~nosuchuser/x\nIdentityFile ${\nIdentityFile %\n",
		"\x00\xff\xfe Host \t\t!\n !\n*\n",
		"Include bbssh_no_such_file*\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		// Include reads whatever it names; inputs that could name a path
		// (such as a device under /dev) are left unchecked.
		if bytes.Contains(bytes.ToLower(content), []byte("include")) && bytes.Contains(content, []byte("/")) {
			return
		}
		path := writeSSHConfig(t, t.TempDir(), string(content))
		for _, host := range []string{"app", "web1", ""} {
			if _, err := ReadSSHConfig(path, host, "me"); err != nil && KindOf(err) != KindBadOption {
				t.Errorf("error of kind %q: %v", KindOf(err), err)
			}
		}
	})
}
