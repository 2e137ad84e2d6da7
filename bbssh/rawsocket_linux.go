package bbssh

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// Socket reads and writes without the runtime's system call bookkeeping,
// for the SSH connection and for the local side of forwards and exec data
// channels. Every read or write through a net.Conn enters the Go
// runtime's system call state: it wakes the runtime's monitor thread
// (sysmon) whenever the process had been idle, and a call that lasts
// more than 20 µs while other goroutines wait lets the monitor hand the
// processor to another thread, which keeps the monitor polling every
// 20 µs. Receiving at full speed, the pod goes idle and busy again
// thousands of times a second: in a -R profile half of the pod's
// context switches were the monitor's. The sockets are non-blocking, so
// a read or write returns at once (EAGAIN when it would wait); done as a
// raw system call inside the socket's RawConn, the poller still does the
// waiting and the deadlines still hold, and the monitor stays asleep.

// rawSocket is a TCP connection whose Read, Write and WriteBuffers are
// raw system calls on its non-blocking socket. Its errors are those of
// the net.Conn it wraps: *net.OpError with Op "read", "write" or
// "writev", io.EOF at the end of the stream.
type rawSocket struct {
	net.Conn
	raw syscall.RawConn
}

// newRawSocket returns c with raw reads and writes when it is a TCP
// connection, and c itself otherwise.
func newRawSocket(c net.Conn) net.Conn {
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return c
	}
	return &rawSocket{Conn: c, raw: raw}
}

func (s *rawSocket) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := s.raw.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait until readable
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, s.opError("read", err)
	case errno != 0:
		return 0, s.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (s *rawSocket) Write(p []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := s.raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
			switch e {
			case 0:
				n += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // wait until writable
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return n, s.opError("write", err)
	case errno != 0:
		return n, s.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// opError wraps err as the net.Conn's own Read or Write would: RawConn's
// errors (a closed connection, a deadline) come as an *net.OpError of op
// "raw-read" or "raw-write", and are unwrapped first.
func (s *rawSocket) opError(op string, err error) error {
	var raw *net.OpError
	if errors.As(err, &raw) {
		err = raw.Err
	}
	return &net.OpError{Op: op, Net: s.LocalAddr().Network(), Source: s.LocalAddr(), Addr: s.RemoteAddr(), Err: err}
}

// WriteBuffers writes all of v with writev system calls, at most
// maxIovecs pieces each, and consumes what it wrote from v, as
// net.Buffers.WriteTo does; x/crypto/ssh's channel WriteTo hands its
// packets to it in one call.
func (s *rawSocket) WriteBuffers(v *net.Buffers) (int64, error) {
	var written int64
	var errno syscall.Errno
	var iov []syscall.Iovec
	err := s.raw.Write(func(fd uintptr) bool {
		for {
			iov = iov[:0]
			for _, b := range *v {
				if len(b) == 0 {
					continue
				}
				iov = append(iov, syscall.Iovec{Base: &b[0]})
				iov[len(iov)-1].SetLen(len(b))
				if len(iov) == maxIovecs {
					break
				}
			}
			if len(iov) == 0 {
				*v = (*v)[len(*v):]
				return true
			}
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
			switch e {
			case 0:
				written += int64(r)
				consume(v, int64(r))
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // wait until writable
			default:
				errno = e
				return true
			}
		}
	})
	switch {
	case err != nil:
		return written, s.opError("writev", err)
	case errno != 0:
		return written, s.opError("writev", os.NewSyscallError("writev", errno))
	}
	return written, nil
}

// maxIovecs is the most pieces one writev takes (the kernel's IOV_MAX).
const maxIovecs = 1024

// consume drops the first n bytes of v.
func consume(v *net.Buffers, n int64) {
	for len(*v) > 0 && n > 0 {
		first := (*v)[0]
		if n < int64(len(first)) {
			(*v)[0] = first[n:]
			return
		}
		n -= int64(len(first))
		*v = (*v)[1:]
	}
}
