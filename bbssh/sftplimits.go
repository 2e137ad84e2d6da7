package bbssh

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// SFTP request sizes. pkg/sftp reads and writes in requests of 32 KiB,
// the size every server must take. OpenSSH's sftp-server takes up to 255
// KiB and says so through its limits@openssh.com extension; OpenSSH's own
// sftp client (since 8.7) asks and then reads and writes requests that
// large. Fewer, larger requests cost the server, sshd and the pod less per
// byte: a download through a 50 ms path went from about 150 to 205 MB/s
// with 128 KiB requests. pkg/sftp has no way to send that request, so the
// pod speaks the start of the protocol itself (sftpHandshake) and then
// hands the stream to pkg/sftp as if it had spoken it (sftpReplay).

// sftpLimits are the limits a server states in answer to
// limits@openssh.com (OpenSSH's PROTOCOL, "limits@openssh.com"); 0 means
// none stated.
type sftpLimits struct {
	packet, read, write, handles uint64
}

// SFTP packet types and values the handshake uses.
const (
	sftpInit          = 1
	sftpVersion       = 2
	sftpStatus        = 101
	sftpExtended      = 200
	sftpExtendedReply = 201
	sftpProtocol      = 3
	sftpLimitsName    = "limits@openssh.com"
	// sftpMaxRequest bounds the request size taken from a server's
	// limits, as OpenSSH's sftp client does (256 KiB less 1 KiB).
	sftpMaxRequest = 255 << 10
	// sftpHandshakeMax bounds a handshake packet the pod reads.
	sftpHandshakeMax = 256 << 10
)

// sftpRequestSize returns the size of read and write requests to use with
// a server that stated lim: what it allows of both, at most
// sftpMaxRequest, or the 32 KiB every server takes when it stated
// nothing.
func sftpRequestSize(lim sftpLimits) int {
	if lim.read == 0 && lim.write == 0 {
		return 32 << 10
	}
	n := uint64(sftpMaxRequest)
	for _, l := range []uint64{lim.read, lim.write} {
		if l > 0 && l < n {
			n = l
		}
	}
	// A write request carries its handle and offsets besides the data.
	if lim.packet > 1024 && lim.packet-1024 < n {
		n = lim.packet - 1024
	}
	return int(n)
}

// sftpHandshake sends INIT on w, reads the server's VERSION from r and,
// when the server offers limits@openssh.com, asks for its limits. It
// returns the VERSION packet as it arrived, to be handed to pkg/sftp
// (sftpReplay), and the limits (zero when the server offers none or
// refuses the request).
func sftpHandshake(r io.Reader, w io.Writer) (version []byte, lim sftpLimits, err error) {
	if err := writeSftpPacket(w, sftpInit, binary.BigEndian.AppendUint32(nil, sftpProtocol)); err != nil {
		return nil, lim, err
	}
	version, typ, body, err := readSftpPacket(r)
	if err != nil {
		return nil, lim, err
	}
	if typ != sftpVersion || len(body) < 4 {
		return nil, lim, fmt.Errorf("sftp: expected the server's version, got a packet of type %d", typ)
	}
	if !sftpOffers(body[4:], sftpLimitsName) {
		return version, lim, nil
	}
	const id = 1 // pkg/sftp numbers its requests afresh from 1 as well
	req := binary.BigEndian.AppendUint32(nil, id)
	req = appendSftpString(req, sftpLimitsName)
	if err := writeSftpPacket(w, sftpExtended, req); err != nil {
		return nil, lim, err
	}
	_, typ, body, err = readSftpPacket(r)
	if err != nil {
		return nil, lim, err
	}
	switch {
	case typ == sftpExtendedReply && len(body) >= 4+32 && binary.BigEndian.Uint32(body) == id:
		b := body[4:]
		lim = sftpLimits{
			packet:  binary.BigEndian.Uint64(b),
			read:    binary.BigEndian.Uint64(b[8:]),
			write:   binary.BigEndian.Uint64(b[16:]),
			handles: binary.BigEndian.Uint64(b[24:]),
		}
	case typ == sftpStatus && len(body) >= 4 && binary.BigEndian.Uint32(body) == id:
		// refused: no limits
	default:
		return nil, lim, fmt.Errorf("sftp: unexpected answer of type %d to %s", typ, sftpLimitsName)
	}
	return version, lim, nil
}

// sftpOffers reports whether the extension pairs of a VERSION packet
// name ext.
func sftpOffers(exts []byte, ext string) bool {
	for len(exts) > 0 {
		name, rest, ok := cutSftpString(exts)
		if !ok {
			return false
		}
		_, rest, ok = cutSftpString(rest)
		if !ok {
			return false
		}
		if name == ext {
			return true
		}
		exts = rest
	}
	return false
}

func cutSftpString(b []byte) (s string, rest []byte, ok bool) {
	if len(b) < 4 {
		return "", nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return "", nil, false
	}
	return string(b[4 : 4+n]), b[4+n:], true
}

func appendSftpString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func writeSftpPacket(w io.Writer, typ byte, body []byte) error {
	p := binary.BigEndian.AppendUint32(make([]byte, 0, 5+len(body)), uint32(1+len(body)))
	p = append(p, typ)
	_, err := w.Write(append(p, body...))
	return err
}

// readSftpPacket reads one packet and returns it whole (raw) and split
// into its type and body.
func readSftpPacket(r io.Reader) (raw []byte, typ byte, body []byte, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 1 || n > sftpHandshakeMax {
		return nil, 0, nil, fmt.Errorf("sftp: packet of %d bytes at the start", n)
	}
	raw = make([]byte, 4+n)
	copy(raw, hdr[:])
	if _, err := io.ReadFull(r, raw[4:]); err != nil {
		return nil, 0, nil, err
	}
	return raw, raw[4], raw[5:], nil
}

// sftpReplay is the stream pkg/sftp is started on after sftpHandshake:
// the INIT it sends is dropped (the server had one already) and it reads
// the server's VERSION first, then the stream.
type sftpReplay struct {
	io.Reader // the VERSION, then the stream
	w         io.WriteCloser
	init      []byte // the start of pkg/sftp's INIT, until its length is known
	drop      int    // bytes of the INIT still to drop; -1 once dropped
}

func newSftpReplay(r io.Reader, w io.WriteCloser, version []byte) *sftpReplay {
	return &sftpReplay{Reader: io.MultiReader(bytes.NewReader(version), r), w: w}
}

func (s *sftpReplay) Write(p []byte) (int, error) {
	total := len(p)
	for s.drop >= 0 && len(p) > 0 {
		if len(s.init) < 5 {
			k := min(5-len(s.init), len(p))
			s.init = append(s.init, p[:k]...)
			p = p[k:]
			if len(s.init) < 5 {
				continue
			}
			if s.init[4] != sftpInit {
				return 0, errors.New("sftp: the client's first packet is not INIT")
			}
			s.drop = int(binary.BigEndian.Uint32(s.init)) - 1
		}
		k := min(s.drop, len(p))
		s.drop -= k
		p = p[k:]
		if s.drop == 0 {
			s.drop = -1
		}
	}
	if len(p) == 0 {
		return total, nil
	}
	n, err := s.w.Write(p)
	return total - len(p) + n, err
}

func (s *sftpReplay) Close() error { return s.w.Close() }
