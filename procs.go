package main

import (
	"os"
	"runtime"
	"strconv"
)

// podProcs returns how many OS threads may run the pod's Go code at once
// (GOMAXPROCS): half the CPUs the process may use, at least one, unless
// the user set GOMAXPROCS (envProcs), which is then left to the runtime.
//
// The pod is a pipeline: each received packet passes from the goroutine
// that reads and decrypts it to the connection's demultiplexer and on to
// the goroutine that writes it out. With as many Ps as CPUs, every such
// hand-off wakes an idle thread on another CPU, which spins looking for
// work and parks again, and the pod shares those CPUs with the sshd, the
// programs at the ends of its forwards and babashka itself. On the 2-core
// machine of bench/RESULTS.md, one P instead of two cut the pod's CPU per
// MiB received through -R from 1.72–1.89 ms to 1.11–1.21 and raised its
// throughput by a third; -L, scp and sftp uploads gained as well, scp and
// sftp downloads and exec output (which also crosses the pod protocol)
// moved within the noise.
// Half the CPUs keeps the parallelism of many transfers at once on
// larger machines.
func podProcs(cpus int, envProcs string) (procs int, set bool) {
	if n, err := strconv.Atoi(envProcs); err == nil && n > 0 {
		return 0, false
	}
	return max(1, cpus/2), true
}

// setPodProcs applies podProcs to the running process.
func setPodProcs() {
	if procs, set := podProcs(runtime.GOMAXPROCS(0), os.Getenv("GOMAXPROCS")); set {
		runtime.GOMAXPROCS(procs)
	}
}
