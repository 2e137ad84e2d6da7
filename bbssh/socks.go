package bbssh

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"

	"golang.org/x/crypto/ssh"
)

// This file is the server side of SOCKS for dynamic forwards (ssh -D and
// ssh -R port): SOCKS5 (RFC 1928, no authentication) and SOCKS4/4a, the
// CONNECT command only, as OpenSSH's own -D offers.

// socksRequest is a CONNECT request read from a SOCKS client.
type socksRequest struct {
	version byte   // 4 or 5
	addr    string // host:port to connect to
}

// SOCKS5 reply codes (RFC 1928 section 6).
const (
	socks5Succeeded          = 0x00
	socks5GeneralFailure     = 0x01
	socks5NotAllowed         = 0x02
	socks5HostUnreachable    = 0x04
	socks5ConnectionRefused  = 0x05
	socks5CommandUnsupported = 0x07
	socks5AddressUnsupported = 0x08
)

// maxSocksString bounds a SOCKS4 user id or SOCKS4a host name.
const maxSocksString = 255

// readSocksRequest negotiates with a SOCKS client on rw up to its CONNECT
// request. Requests it cannot serve are answered with the protocol's
// refusal before the error is returned.
func readSocksRequest(r *bufio.Reader, w io.Writer) (*socksRequest, error) {
	version, err := r.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("socks: reading the version: %w", err)
	}
	switch version {
	case 5:
		return readSocks5(r, w)
	case 4:
		return readSocks4(r, w)
	}
	return nil, fmt.Errorf("socks: unsupported version %d (want 4 or 5)", version)
}

func readSocks5(r *bufio.Reader, w io.Writer) (*socksRequest, error) {
	n, err := r.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("socks5: reading methods: %w", err)
	}
	methods := make([]byte, n)
	if _, err := io.ReadFull(r, methods); err != nil {
		return nil, fmt.Errorf("socks5: reading methods: %w", err)
	}
	noAuth := false
	for _, m := range methods {
		noAuth = noAuth || m == 0x00
	}
	if !noAuth {
		w.Write([]byte{5, 0xff})
		return nil, errors.New("socks5: the client offers no method without authentication")
	}
	if _, err := w.Write([]byte{5, 0x00}); err != nil {
		return nil, fmt.Errorf("socks5: %w", err)
	}
	var head [4]byte // VER CMD RSV ATYP
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("socks5: reading the request: %w", err)
	}
	if head[0] != 5 {
		return nil, fmt.Errorf("socks5: request has version %d", head[0])
	}
	if head[1] != 0x01 {
		writeSocks5Reply(w, socks5CommandUnsupported)
		return nil, fmt.Errorf("socks5: command %d is not supported (only CONNECT)", head[1])
	}
	var host string
	switch head[3] {
	case 0x01, 0x04: // IPv4, IPv6
		ip := make(net.IP, 4)
		if head[3] == 0x04 {
			ip = make(net.IP, 16)
		}
		if _, err := io.ReadFull(r, ip); err != nil {
			return nil, fmt.Errorf("socks5: reading the address: %w", err)
		}
		host = ip.String()
	case 0x03: // domain name
		l, err := r.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("socks5: reading the host name: %w", err)
		}
		name := make([]byte, l)
		if _, err := io.ReadFull(r, name); err != nil {
			return nil, fmt.Errorf("socks5: reading the host name: %w", err)
		}
		if l == 0 {
			writeSocks5Reply(w, socks5AddressUnsupported)
			return nil, errors.New("socks5: empty host name")
		}
		host = string(name)
	default:
		writeSocks5Reply(w, socks5AddressUnsupported)
		return nil, fmt.Errorf("socks5: address type %d is not supported", head[3])
	}
	var port [2]byte
	if _, err := io.ReadFull(r, port[:]); err != nil {
		return nil, fmt.Errorf("socks5: reading the port: %w", err)
	}
	return &socksRequest{version: 5, addr: net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port[:]))))}, nil
}

func readSocks4(r *bufio.Reader, w io.Writer) (*socksRequest, error) {
	var head [7]byte // CMD DSTPORT(2) DSTIP(4)
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("socks4: reading the request: %w", err)
	}
	if _, err := readCString(r); err != nil { // the user id, unused
		return nil, fmt.Errorf("socks4: reading the user id: %w", err)
	}
	port := binary.BigEndian.Uint16(head[1:3])
	ip := net.IP(head[3:7])
	host := ip.String()
	if ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0 {
		// SOCKS4a: the host name follows the user id.
		name, err := readCString(r)
		if err != nil {
			return nil, fmt.Errorf("socks4a: reading the host name: %w", err)
		}
		if name == "" {
			writeSocks4Reply(w, false)
			return nil, errors.New("socks4a: empty host name")
		}
		host = name
	}
	if head[0] != 0x01 {
		writeSocks4Reply(w, false)
		return nil, fmt.Errorf("socks4: command %d is not supported (only CONNECT)", head[0])
	}
	return &socksRequest{version: 4, addr: net.JoinHostPort(host, strconv.Itoa(int(port)))}, nil
}

// readCString reads a NUL-terminated string of at most maxSocksString
// bytes.
func readCString(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == 0 {
			return string(b), nil
		}
		if len(b) == maxSocksString {
			return "", fmt.Errorf("longer than %d bytes", maxSocksString)
		}
		b = append(b, c)
	}
}

// reply tells the client whether its CONNECT succeeded; dialErr is the
// error of connecting to the target, nil on success.
func (req *socksRequest) reply(w io.Writer, dialErr error) error {
	var err error
	if req.version == 4 {
		err = writeSocks4Reply(w, dialErr == nil)
	} else {
		err = writeSocks5Reply(w, socks5Code(dialErr))
	}
	if err != nil {
		return fmt.Errorf("socks%d: writing the reply: %w", req.version, err)
	}
	return nil
}

func writeSocks5Reply(w io.Writer, code byte) error {
	// The bound address is not meaningful through SSH: 0.0.0.0:0.
	_, err := w.Write([]byte{5, code, 0, 0x01, 0, 0, 0, 0, 0, 0})
	return err
}

func writeSocks4Reply(w io.Writer, granted bool) error {
	code := byte(0x5b)
	if granted {
		code = 0x5a
	}
	_, err := w.Write([]byte{0, code, 0, 0, 0, 0, 0, 0})
	return err
}

// socks5Code maps an error connecting to the target to a SOCKS5 reply.
func socks5Code(err error) byte {
	var open *ssh.OpenChannelError
	switch {
	case err == nil:
		return socks5Succeeded
	case errors.As(err, &open) && open.Reason == ssh.Prohibited:
		return socks5NotAllowed
	case errors.As(err, &open) && open.Reason == ssh.ConnectionFailed,
		errors.Is(err, syscall.ECONNREFUSED):
		return socks5ConnectionRefused
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH):
		return socks5HostUnreachable
	}
	return socks5GeneralFailure
}
