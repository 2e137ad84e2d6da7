;; bbssh 0.6's low-level exec channel (session/open-channel +
;; pod.epiccastle.bbssh.channel-exec) against the real sshd: every public
;; function, wired to the pod's stream namespaces.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.channel-exec-test
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.java.io :as io]
            [clojure.string :as str]
            [e2e.common :as c]
            [e2e.netutil :as n]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session]
         '[pod.epiccastle.bbssh.channel-exec :as ch]
         '[pod.epiccastle.bbssh.input-stream :as is]
         '[pod.epiccastle.bbssh.output-stream :as os]
         '[pod.epiccastle.bbssh.byte-array-input-stream :as bais]
         '[pod.epiccastle.bbssh.byte-array-output-stream :as baos])

(def s (bbssh/ssh c/host (c/opts)))

(defn ex
  "The ex-data (with :message) of what f throws, nil when it returns."
  [f]
  (try (f) nil (catch clojure.lang.ExceptionInfo e (assoc (ex-data e) :message (ex-message e)))))

(defn run
  "Runs command on a new channel set up by (setup channel), with stdout
  and stderr captured in byte-array-output-streams; returns {:exit :out :err}."
  ([command] (run command (fn [_])))
  ([command setup]
   (let [c (session/open-channel s "exec")
         out (baos/new)
         err (baos/new)]
     (ch/set-command c command)
     (ch/set-output-stream c out)
     (ch/set-error-stream c err)
     (setup c)
     (ch/connect c)
     {:exit (ch/wait c) :out (baos/to-string out) :err (baos/to-string err)})))

(deftest low-level-as-in-bbssh-0.6
  ;; the shape of bbssh 0.6's test-password-exec-low-level
  (let [c (session/open-channel s "exec")
        stdin (is/new)
        out-os (os/new) out-in (is/new out-os 1024)
        err-os (os/new) err-in (is/new err-os 1024)
        buff (byte-array 1024)]
    (is (re-matches #"bbssh/channel-exec-\d+" (subs (str c) 1)))
    (ch/set-command c "id")
    (is/close stdin)
    (ch/set-input-stream c stdin)
    (ch/set-output-stream c out-os)
    (ch/set-error-stream c err-os)
    (ch/connect c)
    (let [n (is/read out-in buff 0 1024)]
      (is (pos? n))
      (is (str/starts-with? (String. buff 0 n "UTF-8") (str "uid="))))
    (is (= 0 (ch/wait c)))
    (is (= -1 (is/read err-in buff 0 1024)) "stderr ends empty")))

(deftest streams-in-the-pod
  (testing "stdin from a byte-array-input-stream, stdout into a byte-array-output-stream"
    (is (= {:exit 0 :out "a\nb\nc\n" :err ""}
           (run "sort" #(ch/set-input-stream % (bais/new "c\nb\na\n"))))))
  (testing "stderr apart from stdout"
    (is (= {:exit 3 :out "to out\n" :err "to err\n"}
           (run "echo to out; echo to err >&2; exit 3"))))
  (testing "nil stdin is an immediate end of file, as ssh -n"
    (is (= {:exit 0 :out "0\n" :err ""} (run "wc -c" #(ch/set-input-stream % nil)))))
  (testing "dont-close? leaves a pipe open for more; by default it is closed"
    (let [c (session/open-channel s "exec")
          pin (is/new) pout (os/new pin)
          ein (is/new) eout (os/new ein)]
      (ch/set-command c "echo kept; echo kept too >&2")
      (ch/set-output-stream c pout true)
      (ch/set-error-stream c eout true)
      (ch/connect c)
      (is (= 0 (ch/wait c)))
      (os/write pout (.getBytes "+more") 0 5)
      (os/close pout)
      (os/write eout (.getBytes "+more") 0 5)
      (os/close eout)
      (is (= "kept\n+more" (slurp (is/make-proxy pin))))
      (is (= "kept too\n+more" (slurp (is/make-proxy ein)))))
    (let [c (session/open-channel s "exec")
          pin (is/new) pout (os/new pin)
          src (bais/new "x")]
      (ch/set-command c "cat")
      (ch/set-input-stream c src true)
      (ch/set-output-stream c pout false)
      (ch/set-error-stream c nil)
      (ch/connect c)
      (is (= "x" (slurp (is/make-proxy pin))) "closed at the end: the reader sees the end")
      (is (= 0 (ch/wait c))))))

(deftest get-streams-each-its-own
  (let [c (session/open-channel s "exec")
        _ (ch/set-command c "tr a-z A-Z; echo done >&2")
        in (ch/get-output-stream c)
        out (ch/get-input-stream c)
        err (ch/get-error-stream c)]
    (is (= 3 (count (distinct [in out err]))) "three different streams")
    (is (= out (ch/get-input-stream c)) "the same stream on every call")
    (ch/connect c)
    (os/write in (.getBytes "hello") 0 5)
    (os/close in)
    (is (= "HELLO" (slurp (is/make-proxy out))))
    (is (= "done\n" (slurp (is/make-proxy err))))
    (is (= 0 (ch/wait c)))))

(deftest state-and-wait
  (let [c (session/open-channel s "exec")]
    (ch/set-command c "sleep 0.5; exit 10")
    (is (= [false false false -1] [(ch/is-connected c) (ch/is-closed c) (ch/is-eof c) (ch/get-exit-status c)]))
    (is (= :bbssh/not-connected (:type (ex #(ch/wait c)))) "waiting for a channel never connected fails at once")
    (ch/connect c)
    (is (true? (ch/is-connected c)))
    (is (nil? (ch/wait c 0)))
    (is (nil? (ch/wait c -1)))
    (is (nil? (ch/wait c 100)))
    (is (= -1 (ch/get-exit-status c)) "-1 until known")
    (is (= 10 (ch/wait c 10000)))
    (is (= 10 (ch/wait c)))
    (is (= [false true true 10] [(ch/is-connected c) (ch/is-closed c) (ch/is-eof c) (ch/get-exit-status c)]))
    (is (= :bbssh/bad-option (:type (ex #(ch/connect c)))) "a channel connects once")
    (is (= :bbssh/bad-option (:type (ex #(ch/wait c "1")))))))

(deftest is-eof-before-close
  (let [c (session/open-channel s "exec")
        out (baos/new)]
    ;; sshd sends end of file once stdout and stderr are both closed
    (ch/set-command c "echo early; exec 1>&- 2>&-; sleep 1")
    (ch/set-output-stream c out)
    (ch/connect c)
    (is (n/wait-until 5000 #(ch/is-eof c)) "stdout ended while the command runs")
    (is (false? (ch/is-closed c)))
    (is (= "early\n" (baos/to-string out)))
    (is (= 0 (ch/wait c)))))

(deftest ids
  (let [a (session/open-channel s "exec")
        b (session/open-channel s "exec")]
    (is (integer? (ch/get-id a)))
    (is (< (ch/get-id a) (ch/get-id b)) "numbered in order")))

(deftest signal-and-disconnect
  (testing "send-signal ends the command; a killed command has no exit status"
    (let [c (session/open-channel s "exec")]
      (ch/set-command c "sleep 30")
      (ch/connect c)
      (Thread/sleep 200)
      (ch/send-signal c "TERM")
      (is (= -1 (deref (future (ch/wait c)) 5000 :timeout)))
      (is (= -1 (ch/get-exit-status c)))))
  (testing "disconnect ends it; wait says it ended without a status"
    (let [c (session/open-channel s "exec")]
      (ch/set-command c "sleep 30")
      (ch/connect c)
      (ch/disconnect c)
      (is (true? (ch/is-closed c)))
      (is (false? (ch/is-connected c)))
      (let [e (deref (future (ex #(ch/wait c))) 5000 :timeout)]
        (is (= :bbssh/closed (:type e)) (pr-str e)))))
  (testing "wait does not hang when the connection dies"
    (let [s2 (bbssh/ssh c/host (c/opts))
          c (session/open-channel s2 "exec")]
      (ch/set-command c "sleep 30")
      (ch/connect c)
      (let [w (future (ex #(ch/wait c)))]
        (Thread/sleep 200)
        (session/disconnect s2)
        (is (= :bbssh/closed (:type (deref w 5000 {:type :timeout}))))))))

(deftest pty
  (testing "defaults: vt100 80x24"
    (is (= "vt100\r\n24 80\r\n" (:out (run "echo $TERM; stty size" #(ch/set-pty % true))))))
  (testing "set-pty-type with and without a size, set-pty-size before connect"
    (is (= "xterm-256color\r\n24 80\r\n"
           (:out (run "echo $TERM; stty size" #(doto % (ch/set-pty true) (ch/set-pty-type "xterm-256color"))))))
    (is (= "vt220\r\n30 100\r\n"
           (:out (run "echo $TERM; stty size" #(doto % (ch/set-pty true) (ch/set-pty-type "vt220" 100 30 800 600))))))
    (is (= "43 132\r\n" (:out (run "stty size" #(doto % (ch/set-pty true) (ch/set-pty-size 132 43 1056 688)))))))
  (testing "set-pty-size on a running command changes the window"
    (let [c (session/open-channel s "exec")
          in (ch/get-output-stream c)
          out (baos/new)]
      (ch/set-command c "stty size; read x; stty size")
      (ch/set-pty c true)
      (ch/set-output-stream c out)
      (ch/connect c)
      (is (n/wait-until 5000 #(str/includes? (baos/to-string out) "24 80")))
      (ch/set-pty-size c 150 50 0 0)
      (os/write in (.getBytes "\n") 0 1)
      (is (= 0 (ch/wait c 10000)))
      (is (str/ends-with? (baos/to-string out) "50 150\r\n") (baos/to-string out))))
  (testing "no pty: no terminal"
    (is (= "none\n" (:out (run "tty -s && echo tty || echo none" #(ch/set-pty % false)))))))

(deftest terminal-modes
  (let [echo-flag #(->> % :out str/trim)]
    (is (= "echo" (echo-flag (run "stty -a | tr ' ' '\\n' | grep -x -- '-*echo'" #(ch/set-pty % true)))))
    (is (= "-echo" (echo-flag (run "stty -a | tr ' ' '\\n' | grep -x -- '-*echo'"
                                   #(doto % (ch/set-pty true) (ch/set-terminal-mode (byte-array [53 0 0 0 0 0])))))))
    (is (= :bbssh/bad-option (:type (ex #(ch/set-terminal-mode (session/open-channel s "exec") (byte-array [200 0]))))))))

(deftest environment
  (is (= "hello|\n" (:out (run "echo \"$BBSSH_GREETING|$NOT_ACCEPTED\""
                               #(doto % (ch/set-env "BBSSH_GREETING" "hello") (ch/set-env "NOT_ACCEPTED" "x")))))
      "accepted variables arrive, refused ones are dropped as ssh does"))

(deftest agent-forwarding
  (let [dir (n/temp-dir)
        sock (str dir "/agent.sock")
        agent (.start (ProcessBuilder. ["ssh-agent" "-D" "-a" sock]))]
    (try
      (is (n/wait-until 5000 #(.exists (io/file sock))))
      (let [pb (doto (ProcessBuilder. ["ssh-add" (c/env "BBSSH_TEST_IDENTITY")]) (.redirectErrorStream true))
            _ (.put (.environment pb) "SSH_AUTH_SOCK" sock)
            p (.start pb)]
        (slurp (.getInputStream p))
        (is (zero? (.waitFor p))))
      (let [s2 (bbssh/ssh c/host (c/opts {:agent-socket sock}))
            c (session/open-channel s2 "exec")
            out (baos/new)]
        (ch/set-command c "ssh-add -l")
        (ch/set-output-stream c out)
        (ch/set-agent-forwarding c true)
        (ch/connect c)
        (is (= 0 (ch/wait c)))
        (is (re-find #"SHA256:" (baos/to-string out)) "the command sees the forwarded agent")
        (session/disconnect s2))
      (finally (.destroy agent))))
  (is (not= 0 (:exit (run "ssh-add -l" #(ch/set-agent-forwarding % false)))) "no agent unless asked"))

(deftest x11-forwarding
  (if (System/getenv "DISPLAY")
    (is (= :bbssh/unsupported (:type (ex #(ch/set-x-forwarding (session/open-channel s "exec") true)))))
    (is (= "none\n" (:out (run "echo ${DISPLAY:-none}" #(ch/set-x-forwarding % true))))
        "without a DISPLAY nothing is asked for, as ssh -X does"))
  (is (= "none\n" (:out (run "echo ${DISPLAY:-none}" #(ch/set-x-forwarding % false))))))

(deftest bad-calls
  (let [c (session/open-channel s "exec")]
    (ch/set-command c "true")
    (ch/connect c)
    (is (= :bbssh/bad-option (:type (ex #(ch/set-command c "false")))) "setters after connect fail")
    (is (= :bbssh/bad-option (:type (ex #(ch/set-env c "A" "b")))))
    (ch/wait c))
  (is (= :bbssh/unsupported (:type (ex #(session/open-channel s "shell")))))
  (is (= :bbssh/bad-option (:type (ex #(ch/connect (session/open-channel s "exec"))))) "no command")
  (let [down (bbssh/ssh c/host (c/opts {:no-connect true}))]
    (is (= :bbssh/not-connected (:type (ex #(session/open-channel down "exec"))))))
  (is (= :bbssh/unknown-handle (:type (ex #(ch/set-command s "x")))) "a session is not a channel")
  (is (= :bbssh/unknown-handle (:type (ex #(ch/set-input-stream (session/open-channel s "exec") (baos/new)))))
      "an output stream is not an input stream")
  (is (= :bbssh/not-connected (:type (ex #(ch/send-signal (session/open-channel s "exec") "TERM"))))
      "no command to signal before connect"))

(deftest bulk-through-make-proxy
  ;; 32 MiB both ways through cat: stdin written through an output-stream
  ;; proxy, stdout read through an input-stream proxy, both on data channels
  (let [size (* 32 1024 1024)
        data (let [b (byte-array size) r (java.util.Random. 7)] (.nextBytes r b) b)
        c (session/open-channel s "exec")
        in (os/make-proxy (ch/get-output-stream c))
        out (is/make-proxy (ch/get-input-stream c))
        sha #(.digest (java.security.MessageDigest/getInstance "SHA-256") %)
        started (System/nanoTime)]
    (ch/set-command c "cat")
    (ch/connect c)
    (let [writer (future (with-open [o in] (.write o ^bytes data)))
          got (let [bo (java.io.ByteArrayOutputStream.)] (io/copy out bo) (.toByteArray bo))
          secs (/ (- (System/nanoTime) started) 1e9)]
      @writer
      (is (= size (alength ^bytes got)))
      (is (java.util.Arrays/equals ^bytes (sha data) ^bytes (sha got)) "every byte arrived, in order")
      (println (format "channel-exec cat round trip: %d MiB in %.2f s (%.0f MiB/s each way)"
                       (quot size 1048576) secs (/ size 1048576.0 secs))))
    (is (= 0 (ch/wait c)))))

(c/run-tests-and-exit 'e2e.channel-exec-test)
