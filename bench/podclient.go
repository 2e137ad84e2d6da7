package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"

	"github.com/jackpal/bencode-go"
	"olympos.io/encoding/edn"
)

// podClient drives the pod binary over stdio with the pod protocol, as
// babashka does: describe, then invoke by var name with EDN arguments.
// The benchmarks go through it so that they measure what a script gets.
type podClient struct {
	cmd *exec.Cmd
	in  io.WriteCloser

	writeMu sync.Mutex
	mu      sync.Mutex
	nextID  int
	waiting map[string]chan map[string]any
}

// startPod starts the pod at path, with extra environment variables, and
// reads its describe reply.
func startPod(path string, env ...string) (*podClient, error) {
	cmd := exec.Command(path)
	cmd.Env = append(append(os.Environ(), "BABASHKA_POD=true"), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the pod: %w", err)
	}
	p := &podClient{cmd: cmd, in: in, waiting: map[string]chan map[string]any{}}
	described := p.expect("describe")
	go p.readLoop(bufio.NewReaderSize(out, 1<<20))
	if err := p.send(map[string]any{"op": "describe", "id": "describe"}); err != nil {
		return nil, err
	}
	if reply := <-described; reply == nil || reply["namespaces"] == nil {
		return nil, fmt.Errorf("the pod gave no describe reply")
	}
	return p, nil
}

func (p *podClient) expect(id string) chan map[string]any {
	ch := make(chan map[string]any, 1)
	p.mu.Lock()
	p.waiting[id] = ch
	p.mu.Unlock()
	return ch
}

func (p *podClient) send(msg map[string]any) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	return bencode.Marshal(p.in, msg)
}

func (p *podClient) readLoop(r *bufio.Reader) {
	for {
		v, err := bencode.Decode(r)
		if err != nil {
			p.mu.Lock()
			for id, ch := range p.waiting {
				close(ch)
				delete(p.waiting, id)
			}
			p.mu.Unlock()
			return
		}
		msg, _ := v.(map[string]any)
		id, _ := msg["id"].(string)
		p.mu.Lock()
		ch := p.waiting[id]
		delete(p.waiting, id)
		p.mu.Unlock()
		if ch != nil {
			ch <- msg
		}
	}
}

// invoke calls var with args written as EDN and returns the value's EDN.
func (p *podClient) invoke(sym string, args string) (string, error) {
	p.mu.Lock()
	p.nextID++
	id := strconv.Itoa(p.nextID)
	p.mu.Unlock()
	ch := p.expect(id)
	if err := p.send(map[string]any{"op": "invoke", "id": id, "var": sym, "args": args}); err != nil {
		return "", err
	}
	reply, ok := <-ch
	if !ok {
		return "", fmt.Errorf("the pod went away during %s", sym)
	}
	if msg, isErr := reply["ex-message"].(string); isErr {
		return "", fmt.Errorf("%s: %s %v", sym, msg, reply["ex-data"])
	}
	value, _ := reply["value"].(string)
	return value, nil
}

// invokeInt invokes and reads an integer result.
func (p *podClient) invokeInt(sym, args string) (int, error) {
	v, err := p.invoke(sym, args)
	if err != nil {
		return 0, err
	}
	var n int
	if err := edn.UnmarshalString(v, &n); err != nil {
		return 0, fmt.Errorf("%s returned %q: %w", sym, v, err)
	}
	return n, nil
}

// close shuts the pod down and waits for it.
func (p *podClient) close() error {
	p.send(map[string]any{"op": "shutdown", "id": "shutdown"})
	p.in.Close()
	return p.cmd.Wait()
}
