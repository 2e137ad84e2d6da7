package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"bbssh/test/testbed"
)

// describeTime starts the pod runs times and returns the median time from
// start to the describe reply, in ms.
func describeTime(podPath string, runs int) (float64, error) {
	var ms []float64
	for i := 0; i < runs; i++ {
		start := time.Now()
		p, err := startPod(podPath)
		if err != nil {
			return 0, err
		}
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		p.close()
	}
	return median(ms), nil
}

// rssMiB is the resident memory of process pid, in MiB.
func rssMiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				return 0, err
			}
			return float64(kb) / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// measureMemory returns the pod's RSS idle with one session, with 100
// forwards, and with 1000 open connections through one forward.
func measureMemory(p *podClient, srv *testbed.Server, cipher string) (idle, forwards, conns float64, err error) {
	pid := p.cmd.Process.Pid
	session, release, err := podSession(p, srv, cipher)
	if err != nil {
		return 0, 0, 0, err
	}
	defer release()
	time.Sleep(200 * time.Millisecond)
	if idle, err = rssMiB(pid); err != nil {
		return
	}
	echo, err := echoListener()
	if err != nil {
		return
	}
	defer echo.Close()
	echoPort := echo.Addr().(*net.TCPAddr).Port
	var ports []int
	for i := 0; i < 100; i++ {
		port, ferr := p.invokeInt("pod.epiccastle.bbssh.pod.forward/forward-local",
			fmt.Sprintf("[%s {:local-port 0 :remote-host \"127.0.0.1\" :remote-port %d}]", session, echoPort))
		if ferr != nil {
			return 0, 0, 0, ferr
		}
		ports = append(ports, port)
	}
	if forwards, err = rssMiB(pid); err != nil {
		return
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	msg := payload[:16]
	for i := 0; i < 1000; i++ {
		c, derr := net.DialTimeout("tcp", addr, 10*time.Second)
		if derr != nil {
			return 0, 0, 0, derr
		}
		open = append(open, c)
		// an echo proves the connection reached the target
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err = c.Write(msg); err != nil {
			return
		}
		if _, err = c.Read(make([]byte, len(msg))); err != nil {
			return
		}
	}
	conns, err = rssMiB(pid)
	return
}

// cpuSeconds is the user plus system CPU time process pid has used, read
// from /proc/PID/stat. Comparing it per byte moved tells which client
// does more work for the same data, a figure that a busy machine blurs
// less than a rate.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are
	// counted from its closing parenthesis.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	const clockTicks = 100 // USER_HZ on Linux
	return (utime + stime) / clockTicks, nil
}
