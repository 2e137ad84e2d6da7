package main

import "testing"

func TestPodProcs(t *testing.T) {
	tests := []struct {
		name      string
		cpus      int
		env       string
		wantProcs int
		wantSet   bool
	}{
		{"one CPU", 1, "", 1, true},
		{"two CPUs", 2, "", 1, true},
		{"three CPUs", 3, "", 1, true},
		{"eight CPUs", 8, "", 4, true},
		{"the user's GOMAXPROCS wins", 8, "3", 0, false},
		{"a GOMAXPROCS the runtime ignores is ignored", 8, "many", 4, true},
		{"GOMAXPROCS=0 is ignored, as the runtime does", 2, "0", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			procs, set := podProcs(tt.cpus, tt.env)
			if procs != tt.wantProcs || set != tt.wantSet {
				t.Errorf("podProcs(%d, %q) = %d, %v; want %d, %v", tt.cpus, tt.env, procs, set, tt.wantProcs, tt.wantSet)
			}
		})
	}
}
