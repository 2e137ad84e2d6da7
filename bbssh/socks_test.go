package bbssh

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestReadSocksRequest(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		addr    string // "" when an error is expected
		errText string
		written []byte // what the server answered before returning
	}{
		{name: "socks5 domain", in: []byte{5, 1, 0, 5, 1, 0, 3, 2, 'd', 'b', 0x15, 0x38},
			addr: "db:5432", written: []byte{5, 0}},
		{name: "socks5 ipv4", in: []byte{5, 2, 2, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80},
			addr: "127.0.0.1:80", written: []byte{5, 0}},
		{name: "socks5 ipv6", in: append(append([]byte{5, 1, 0, 5, 1, 0, 4}, make([]byte, 15)...), 1, 0x1f, 0x90),
			addr: "[::1]:8080", written: []byte{5, 0}},
		{name: "socks4", in: []byte{4, 1, 0, 22, 10, 0, 0, 7, 'm', 'e', 0},
			addr: "10.0.0.7:22"},
		{name: "socks4a", in: []byte{4, 1, 0, 22, 0, 0, 0, 1, 0, 'h', 'o', 's', 't', 0},
			addr: "host:22"},
		{name: "bad version", in: []byte{6}, errText: "unsupported version 6"},
		{name: "socks5 auth required", in: []byte{5, 1, 2}, errText: "no method without authentication",
			written: []byte{5, 0xff}},
		{name: "socks5 bind", in: []byte{5, 1, 0, 5, 2, 0, 1, 1, 2, 3, 4, 0, 80}, errText: "command 2 is not supported",
			written: []byte{5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0}},
		{name: "socks5 address type", in: []byte{5, 1, 0, 5, 1, 0, 9}, errText: "address type 9",
			written: []byte{5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0}},
		{name: "socks5 empty name", in: []byte{5, 1, 0, 5, 1, 0, 3, 0, 0, 80}, errText: "empty host name",
			written: []byte{5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0}},
		{name: "socks5 truncated", in: []byte{5, 1, 0, 5, 1, 0, 3, 9, 'a'}, errText: "reading the host name",
			written: []byte{5, 0}},
		{name: "socks4 bind", in: []byte{4, 2, 0, 22, 10, 0, 0, 7, 0}, errText: "command 2",
			written: []byte{0, 0x5b, 0, 0, 0, 0, 0, 0}},
		{name: "socks4 endless user id", in: append([]byte{4, 1, 0, 22, 10, 0, 0, 7}, bytes.Repeat([]byte{'u'}, 300)...),
			errText: "longer than 255"},
		{name: "empty", in: nil, errText: "reading the version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			req, err := readSocksRequest(bufio.NewReader(bytes.NewReader(tt.in)), &out)
			if tt.addr == "" {
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("got %v, %v; want an error with %q", req, err, tt.errText)
				}
			} else if err != nil || req.addr != tt.addr {
				t.Fatalf("got %+v, %v; want %s", req, err, tt.addr)
			}
			if !bytes.Equal(out.Bytes(), tt.written) && !(len(tt.written) == 0 && out.Len() == 0) {
				t.Errorf("answered % x, want % x", out.Bytes(), tt.written)
			}
		})
	}
}

func TestSocksReply(t *testing.T) {
	refused := &ssh.OpenChannelError{Reason: ssh.ConnectionFailed, Message: "Connection refused"}
	tests := []struct {
		version byte
		dialErr error
		want    []byte
	}{
		{5, nil, []byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0}},
		{5, refused, []byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}},
		{5, &ssh.OpenChannelError{Reason: ssh.Prohibited}, []byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0}},
		{5, syscall.ECONNREFUSED, []byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}},
		{5, errors.New("other"), []byte{5, 1, 0, 1, 0, 0, 0, 0, 0, 0}},
		{4, nil, []byte{0, 0x5a, 0, 0, 0, 0, 0, 0}},
		{4, refused, []byte{0, 0x5b, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		req := &socksRequest{version: tt.version, addr: "h:1"}
		if err := req.reply(&out, tt.dialErr); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), tt.want) {
			t.Errorf("socks%d reply to %v = % x, want % x", tt.version, tt.dialErr, out.Bytes(), tt.want)
		}
	}
}

// FuzzReadSocksRequest checks that no input makes the negotiation panic
// or yield an address that is not host:port.
func FuzzReadSocksRequest(f *testing.F) {
	f.Add([]byte{5, 1, 0, 5, 1, 0, 3, 2, 'd', 'b', 0x15, 0x38})
	f.Add([]byte{4, 1, 0, 22, 0, 0, 0, 1, 0, 'h', 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := readSocksRequest(bufio.NewReader(bytes.NewReader(in)), &bytes.Buffer{})
		if err == nil && (req.addr == "" || !strings.Contains(req.addr, ":")) {
			t.Fatalf("accepted %q", req.addr)
		}
	})
}
