// Command testpod is a tiny babashka pod used to self-test the Clojure pod
// client in test/client. It speaks the pod protocol (bencode messages, EDN
// payloads) over stdio, or over a local socket when BABASHKA_POD_TRANSPORT is
// "socket" (writing .babashka-pod-<pid>.port in the working directory and
// removing it on exit).
package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	bencode "github.com/jackpal/bencode-go"
)

const coreCode = `(ns pod.test.core (:require [babashka.pods :as pods]))
(defn ->point "Reader for #test/point." [[x y]] {:x x :y y})`

const collectCode = `(defn collect
  "Streams n values through invoke with handlers; returns a promise of
  {:values [...]} (on done) or {:error {...}}."
  [n]
  (let [acc (atom []) p (promise)]
    (pods/invoke "pod.test.core" 'pod.test.core/stream [n]
                 {:handlers {:success (fn [v] (swap! acc conj v))
                             :error (fn [e] (deliver p {:error e :values @acc}))
                             :done (fn [] (deliver p {:values @acc}))}})
    p))`

type dict = map[string]interface{}

var (
	outMu    sync.Mutex
	out      *bufio.Writer
	portFile string
)

func send(m dict) {
	outMu.Lock()
	defer outMu.Unlock()
	if err := bencode.Marshal(out, m); err != nil {
		fatal(err)
	}
	if err := out.Flush(); err != nil {
		fatal(err)
	}
}

func exit(code int) {
	if portFile != "" {
		os.Remove(portFile)
	}
	os.Exit(code)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "testpod:", err)
	exit(1)
}

func describe() dict {
	v := func(name string) dict { return dict{"name": name} }
	return dict{
		"format":  "edn",
		"ops":     dict{"shutdown": dict{}, "load-ns": dict{}},
		"readers": dict{"test/point": "pod.test.core/->point"},
		"namespaces": []interface{}{
			dict{"name": "pod.test.core", "vars": []interface{}{
				dict{"name": "->point", "code": coreCode},
				dict{"name": "add", "meta": `{:doc "Adds numbers." :arglists ([& xs])}`},
				v("echo"), v("fail"), v("chatty"), v("point"), v("crash"),
				dict{"name": "stream", "async": "true"},
				dict{"name": "twice", "code": `(defn twice "Doubles x using the pod." [x] (add x x))`},
				dict{"name": "collect", "code": collectCode},
			}},
			dict{"name": "pod.test.lazy", "defer": "true"},
		},
	}
}

func lazyNS(id string) dict {
	return dict{"id": id, "name": "pod.test.lazy", "status": []interface{}{"done"},
		"vars": []interface{}{
			dict{"name": "greet"},
			dict{"name": "loaded?", "code": "(def loaded? true)"},
		}}
}

// inner strips the brackets of an EDN args vector: "[1 2]" -> "1 2".
func inner(args string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(args), "["), "]")
}

func value(id, v string) dict {
	return dict{"id": id, "value": v, "status": []interface{}{"done"}}
}

func invoke(id, name, args string) {
	a := inner(args)
	switch name {
	case "pod.test.core/add":
		sum := 0
		for _, f := range strings.Fields(a) {
			n, err := strconv.Atoi(f)
			if err != nil {
				send(dict{"id": id, "status": []interface{}{"done", "error"},
					"ex-message": "not a number: " + f, "ex-data": "{:type :test/nan}"})
				return
			}
			sum += n
		}
		send(value(id, strconv.Itoa(sum)))
	case "pod.test.core/echo":
		time.Sleep(time.Duration(rand.Intn(20)) * time.Millisecond)
		send(value(id, a))
	case "pod.test.core/fail":
		send(dict{"id": id, "status": []interface{}{"done", "error"},
			"ex-message": "boom", "ex-data": "{:type :test/boom :args " + args + "}"})
	case "pod.test.core/chatty":
		send(dict{"id": id, "out": "hello out\n"})
		send(dict{"id": id, "err": "hello err\n"})
		send(value(id, ":ok"))
	case "pod.test.core/point":
		send(value(id, "#test/point [1 2]"))
	case "pod.test.core/crash":
		exit(3)
	case "pod.test.core/stream":
		n, _ := strconv.Atoi(a)
		for i := 1; i <= n; i++ {
			send(dict{"id": id, "value": fmt.Sprintf("{:i %d}", i)})
		}
		send(dict{"id": id, "status": []interface{}{"done"}})
	case "pod.test.lazy/greet":
		send(value(id, `"hello `+strings.Trim(a, `"`)+`"`))
	default:
		send(dict{"id": id, "status": []interface{}{"done", "error"},
			"ex-message": "no such var: " + name, "ex-data": "{:type :test/no-var}"})
	}
}

func str(m dict, k string) string {
	s, _ := m[k].(string)
	return s
}

func serve(in io.Reader) {
	r := bufio.NewReader(in)
	for {
		msg, err := bencode.Decode(r)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			exit(0)
		} else if err != nil {
			fatal(err)
		}
		m, ok := msg.(map[string]interface{})
		if !ok {
			fatal(fmt.Errorf("message is not a dict: %v", msg))
		}
		id := str(m, "id")
		switch str(m, "op") {
		case "describe":
			send(describe())
		case "invoke":
			go invoke(id, str(m, "var"), str(m, "args"))
		case "load-ns":
			send(lazyNS(id))
		case "shutdown":
			exit(0)
		default:
			send(dict{"id": id, "status": []interface{}{"done", "error"},
				"ex-message": "unknown op " + str(m, "op"), "ex-data": "{}"})
		}
	}
}

func main() {
	if os.Getenv("BABASHKA_POD") != "true" {
		fmt.Fprintln(os.Stderr, "testpod: run me as a babashka pod")
		os.Exit(2)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sigs; exit(143) }()

	if os.Getenv("BABASHKA_POD_TRANSPORT") != "socket" {
		out = bufio.NewWriter(os.Stdout)
		serve(os.Stdin)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	portFile = fmt.Sprintf(".babashka-pod-%d.port", os.Getpid())
	port := ln.Addr().(*net.TCPAddr).Port
	if err := os.WriteFile(portFile, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
		fatal(err)
	}
	conn, err := ln.Accept()
	if err != nil {
		fatal(err)
	}
	ln.Close()
	out = bufio.NewWriter(conn)
	serve(conn)
}
