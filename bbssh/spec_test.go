package bbssh

import (
	"strings"
	"testing"
)

func TestParseForwardSpec(t *testing.T) {
	tests := []struct {
		kind ForwardKind
		spec string
		want ForwardSpec
	}{
		// ssh -L
		{LocalForward, "8080:db:5432", ForwardSpec{ListenPort: 8080, TargetHost: "db", TargetPort: 5432}},
		{LocalForward, "127.0.0.1:0:db:5432", ForwardSpec{BindAddress: "127.0.0.1", TargetHost: "db", TargetPort: 5432}},
		{LocalForward, "0.0.0.0:9000:/var/run/docker.sock", ForwardSpec{BindAddress: "0.0.0.0", ListenPort: 9000, TargetUnix: "/var/run/docker.sock"}},
		{LocalForward, "/tmp/d.sock:/var/run/docker.sock", ForwardSpec{ListenUnix: "/tmp/d.sock", TargetUnix: "/var/run/docker.sock"}},
		{LocalForward, "/tmp/d.sock:db:5432", ForwardSpec{ListenUnix: "/tmp/d.sock", TargetHost: "db", TargetPort: 5432}},
		{LocalForward, "9000:/var/run/docker.sock", ForwardSpec{ListenPort: 9000, TargetUnix: "/var/run/docker.sock"}},
		{LocalForward, ":8080:db:80", ForwardSpec{BindAddress: "*", ListenPort: 8080, TargetHost: "db", TargetPort: 80}},
		{LocalForward, "*:8080:db:80", ForwardSpec{BindAddress: "*", ListenPort: 8080, TargetHost: "db", TargetPort: 80}},
		{LocalForward, "[::1]:8080:[fe80::1%eth0]:80", ForwardSpec{BindAddress: "::1", ListenPort: 8080, TargetHost: "fe80::1%eth0", TargetPort: 80}},
		{LocalForward, "8080:[::1]:22", ForwardSpec{ListenPort: 8080, TargetHost: "::1", TargetPort: 22}},
		{LocalForward, "localhost:65535:db:1", ForwardSpec{BindAddress: "localhost", ListenPort: 65535, TargetHost: "db", TargetPort: 1}},
		// ssh -R
		{RemoteForward, "8080:localhost:80", ForwardSpec{Remote: true, ListenPort: 8080, TargetHost: "localhost", TargetPort: 80}},
		{RemoteForward, "0.0.0.0:0:127.0.0.1:3000", ForwardSpec{Remote: true, BindAddress: "0.0.0.0", TargetHost: "127.0.0.1", TargetPort: 3000}},
		{RemoteForward, "/tmp/r.sock:/var/run/app.sock", ForwardSpec{Remote: true, ListenUnix: "/tmp/r.sock", TargetUnix: "/var/run/app.sock"}},
		{RemoteForward, "/tmp/r.sock:localhost:80", ForwardSpec{Remote: true, ListenUnix: "/tmp/r.sock", TargetHost: "localhost", TargetPort: 80}},
		{RemoteForward, "8080:/var/run/app.sock", ForwardSpec{Remote: true, ListenPort: 8080, TargetUnix: "/var/run/app.sock"}},
		{RemoteForward, "9000", ForwardSpec{Remote: true, Dynamic: true, ListenPort: 9000}},
		{RemoteForward, "127.0.0.1:9000", ForwardSpec{Remote: true, Dynamic: true, BindAddress: "127.0.0.1", ListenPort: 9000}},
		// ssh -D
		{DynamicForward, "9000", ForwardSpec{Dynamic: true, ListenPort: 9000}},
		{DynamicForward, "0", ForwardSpec{Dynamic: true}},
		{DynamicForward, "[::1]:1080", ForwardSpec{Dynamic: true, BindAddress: "::1", ListenPort: 1080}},
		{DynamicForward, ":1080", ForwardSpec{Dynamic: true, BindAddress: "*", ListenPort: 1080}},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String()+"/"+tt.spec, func(t *testing.T) {
			got, err := ParseForwardSpec(tt.kind, tt.spec)
			if err != nil {
				t.Fatalf("ParseForwardSpec(%v, %q): %v", tt.kind, tt.spec, err)
			}
			if got != tt.want {
				t.Errorf("ParseForwardSpec(%v, %q) = %+v, want %+v", tt.kind, tt.spec, got, tt.want)
			}
		})
	}
}

func TestParseForwardSpecRejects(t *testing.T) {
	tests := []struct {
		kind ForwardKind
		spec string
		why  string // a piece of the message
	}{
		{LocalForward, "", "empty"},
		{LocalForward, "8080", "want"},
		{LocalForward, "8080:db", "want"},
		{LocalForward, "8080:db:", "ends with a colon"},
		{LocalForward, "8080::5432", "host is empty"},
		{LocalForward, "x:db:5432", `port "x" is not a number`},
		{LocalForward, "8080:db:http", `port "http" is not a number`},
		{LocalForward, "70000:db:80", "out of range 0-65535"},
		{LocalForward, "8080:db:0", "out of range 1-65535"},
		{LocalForward, "8080:db:-1", "not a number"},
		{LocalForward, "1:2:3:4:5", "more than 4 fields"},
		{LocalForward, "::1:8080:db:80", "more than 4 fields"},
		{LocalForward, "[::1:8080:db:80", "never closed"},
		{LocalForward, "[::1]x:8080:db:80", "closing bracket"},
		{LocalForward, "a[b]:8080:db:80", "bracket in the middle"},
		{LocalForward, "[]:8080:db:80", "must hold an address"},
		{LocalForward, "8080:db:80 ", "space"},
		{LocalForward, "8080:d\nb:80", "control"},
		{LocalForward, "/a/b:/c:d", "target must be"},
		{LocalForward, "h:/a.sock:db:80", "listening end"},
		{LocalForward, "/x.sock:/y.sock:80", "target"},
		{RemoteForward, "8080:db", `port "db" is not a number`},
		{RemoteForward, "/tmp/r.sock", "remote_socket:local_socket"},
		{RemoteForward, "99999", "out of range"},
		{DynamicForward, "db:9000:x", "want [bind_address:]port"},
		{DynamicForward, "/tmp/socks.sock", "want [bind_address:]port"},
		{DynamicForward, "abc", "not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String()+"/"+tt.spec, func(t *testing.T) {
			got, err := ParseForwardSpec(tt.kind, tt.spec)
			if err == nil {
				t.Fatalf("ParseForwardSpec(%v, %q) = %+v, want an error", tt.kind, tt.spec, got)
			}
			if KindOf(err) != KindBadOption {
				t.Errorf("error kind %q, want %q", KindOf(err), KindBadOption)
			}
			if !strings.Contains(err.Error(), tt.why) || !strings.Contains(err.Error(), tt.kind.String()) {
				t.Errorf("error %q does not say %q", err, tt.why)
			}
		})
	}
}

// FuzzParseForwardSpec checks that any input either fails cleanly or
// yields a spec that is valid and whose fields survive a round trip.
func FuzzParseForwardSpec(f *testing.F) {
	for _, s := range []string{"8080:db:5432", "127.0.0.1:0:db:5432", "0.0.0.0:9000:/var/run/docker.sock",
		"/tmp/d.sock:/var/run/docker.sock", "9000", "[::1]:80:[::2]:81", ":1:h:2", "[", "]:", "::::"} {
		for k := LocalForward; k <= DynamicForward; k++ {
			f.Add(int(k), s)
		}
	}
	f.Fuzz(func(t *testing.T, kind int, spec string) {
		k := ForwardKind(((kind % 3) + 3) % 3)
		got, err := ParseForwardSpec(k, spec)
		if err != nil {
			if KindOf(err) != KindBadOption {
				t.Fatalf("error of kind %q: %v", KindOf(err), err)
			}
			return
		}
		if verr := got.validate(); verr != nil {
			t.Fatalf("ParseForwardSpec(%v, %q) = %+v, which is invalid: %v", k, spec, got, verr)
		}
		if got.Remote != (k == RemoteForward) || (k == DynamicForward && !got.Dynamic) {
			t.Fatalf("ParseForwardSpec(%v, %q) = %+v: wrong direction", k, spec, got)
		}
		for _, field := range []string{got.BindAddress, got.TargetHost, got.ListenUnix, got.TargetUnix} {
			if field != "*" && field != "" && !strings.Contains(spec, field) {
				t.Fatalf("ParseForwardSpec(%v, %q) = %+v: field %q is not in the spec", k, spec, got, field)
			}
		}
	})
}
