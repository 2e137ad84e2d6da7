package testbed

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	readyTimeout = 10 * time.Second // how long sshd may take to greet
	termTimeout  = 5 * time.Second  // SIGTERM grace before SIGKILL
	killTimeout  = 5 * time.Second  // how long to wait after SIGKILL
)

// errBind marks an sshd that exited because its port was taken, so the
// caller may retry with another port.
var errBind = errors.New("testbed: sshd could not bind its port")

// process is one running sshd listener.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd.Wait returns
	err  error         // cmd.Wait's result, valid after done
}

// launch starts sshd with config, appending its output to logFile, and waits
// until it greets on port. If sshd exits first, the error carries the log
// lines it wrote and wraps errBind when the port was taken.
func launch(sshd, config, logFile string, port int) (*process, error) {
	// sshd re-executes itself per connection, so it needs an absolute path.
	return launchArgv([]string{sshd, "-D", "-e", "-f", config}, logFile, port)
}

// launchArgv starts the server command argv (which stays in the
// foreground and logs to stderr) as launch does.
func launchArgv(argv []string, logFile string, port int) (*process, error) {
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testbed: open log: %w", err)
	}
	defer log.Close() // sshd holds its own descriptor
	offset, _ := log.Seek(0, io.SeekEnd)

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testbed: start %s: %w", argv[0], err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()

	if err := waitReady(port, p.done); err != nil {
		p.stop()
		out := readFrom(logFile, offset)
		if strings.Contains(out, "Address already in use") || strings.Contains(out, "Cannot bind any address") || strings.Contains(out, "Failed listening") {
			return nil, fmt.Errorf("%w %d: %v\n%s", errBind, port, err, out)
		}
		return nil, fmt.Errorf("testbed: sshd not ready on port %d: %w\nsshd log:\n%s", port, err, out)
	}
	return p, nil
}

// waitReady polls until a TCP connection to port yields an SSH-2.0 banner,
// sshd exits (done closes) or readyTimeout passes.
func waitReady(port int, done <-chan struct{}) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("sshd exited during startup")
		default:
		}
		if last = readBanner(addr); last == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no SSH banner within %v: %w", readyTimeout, last)
}

// readBanner connects to addr and checks that the first line is an SSH-2.0
// identification string.
func readBanner(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read banner: %w", err)
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		return fmt.Errorf("unexpected banner %q", line)
	}
	return nil
}

// stop terminates the listener and everything it spawned: SIGTERM first,
// SIGKILL after termTimeout. Descendants (per-connection sshd processes and
// user sessions) are collected before the listener dies, since they are
// re-parented afterwards, so that clients see their connections drop.
func (p *process) stop() error {
	select {
	case <-p.done:
		return nil // already reaped; its pid may belong to someone else now
	default:
	}
	pid := p.cmd.Process.Pid
	kids := descendants(pid)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	signalAll(kids, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(termTimeout):
		_ = p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(killTimeout):
			return fmt.Errorf("testbed: sshd pid %d did not exit after SIGKILL", pid)
		}
	}
	reapAll(kids)
	return nil
}

// signalAll sends sig to each pid, ignoring processes that are gone.
func signalAll(pids []int, sig syscall.Signal) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
}

// reapAll waits (bounded) for pids to disappear and SIGKILLs stragglers.
func reapAll(pids []int) {
	deadline := time.Now().Add(termTimeout)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// readFrom returns the contents of path from offset on (best effort).
func readFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return string(b)
}

// freePort asks the kernel for an unused loopback port. The listener is
// closed before sshd binds, so the port can be stolen meanwhile; callers
// retry on errBind.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testbed: find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
