package bbssh

import "testing"

func TestForwardListenAddr(t *testing.T) {
	tests := []struct {
		spec          ForwardSpec
		network, addr string
	}{
		{ForwardSpec{ListenPort: 8080}, "tcp", "127.0.0.1:8080"},
		{ForwardSpec{BindAddress: "*", ListenPort: 8080}, "tcp", ":8080"},
		{ForwardSpec{BindAddress: "0.0.0.0", ListenPort: 1}, "tcp", "0.0.0.0:1"},
		{ForwardSpec{BindAddress: "::1"}, "tcp", "[::1]:0"},
		{ForwardSpec{BindAddress: "localhost", ListenPort: 9}, "tcp", "localhost:9"},
		{ForwardSpec{Remote: true, BindAddress: "*", ListenPort: 80}, "tcp", "0.0.0.0:80"},
		{ForwardSpec{Remote: true}, "tcp", "127.0.0.1:0"},
		{ForwardSpec{ListenUnix: "/tmp/x.sock", BindAddress: "*"}, "unix", "/tmp/x.sock"},
	}
	for _, tt := range tests {
		network, addr := tt.spec.listenAddr()
		if network != tt.network || addr != tt.addr {
			t.Errorf("%+v.listenAddr() = %s %s, want %s %s", tt.spec, network, addr, tt.network, tt.addr)
		}
	}
}

func TestForwardTargetAddr(t *testing.T) {
	tests := []struct {
		spec          ForwardSpec
		network, addr string
	}{
		{ForwardSpec{TargetHost: "db", TargetPort: 5432}, "tcp", "db:5432"},
		{ForwardSpec{Remote: true, TargetPort: 3000}, "tcp", "127.0.0.1:3000"},
		{ForwardSpec{TargetHost: "::1", TargetPort: 22}, "tcp", "[::1]:22"},
		{ForwardSpec{TargetUnix: "/var/run/docker.sock", TargetHost: "ignored"}, "unix", "/var/run/docker.sock"},
	}
	for _, tt := range tests {
		network, addr := tt.spec.targetAddr()
		if network != tt.network || addr != tt.addr {
			t.Errorf("%+v.targetAddr() = %s %s, want %s %s", tt.spec, network, addr, tt.network, tt.addr)
		}
	}
}
