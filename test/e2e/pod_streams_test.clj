;; bbssh 0.6's stream namespaces (input-stream, output-stream,
;; byte-array-input-stream, byte-array-output-stream): every public
;; function, on their own and wired to exec channels on the real sshd.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.pod-streams-test
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

(defn bytes-of [s] (.getBytes ^String s "UTF-8"))

(defn channel
  "A connected channel running command with stdin, stdout and stderr set
  (any may be nil)."
  [command in out err]
  (let [c (session/open-channel s "exec")]
    (ch/set-command c command)
    (ch/set-input-stream c in)
    (ch/set-output-stream c out)
    (ch/set-error-stream c err)
    (ch/connect c)
    c))

(deftest pipes
  (testing "every constructor and connect"
    (let [a-in (is/new) a-out (os/new)]
      (os/connect a-out a-in)
      (os/write a-out 65)
      (is (= 65 (is/read a-in))))
    (let [b-in (is/new 16) b-out (os/new)]
      (is/connect b-in b-out)
      (os/write b-out 66)
      (is (= 66 (is/read b-in))))
    (let [o (os/new) i (is/new o)] (os/write o 67) (is (= 67 (is/read i))))
    (let [o (os/new) i (is/new o 8)] (os/write o 68) (is (= 68 (is/read i))))
    (let [i (is/new) o (os/new i)] (os/write o 69) (is (= 69 (is/read i)))))
  (testing "reads of every arity, available, flush, close"
    (let [o (os/new) i (is/new o)
          buf (byte-array 8)]
      (os/write o (bytes-of "hello world") 0 11)
      (os/flush o)
      (is (= 11 (is/available i)))
      (is (= 104 (is/read i)))
      (is (= 4 (is/read i buf 2 4)))
      (is (= "ello" (String. buf 2 4 "UTF-8")))
      (is (= 6 (is/read i buf)))
      (is (= " world" (String. buf 0 6 "UTF-8")))
      (os/write o (bytes-of "xyz") 1 2)
      (os/close o)
      (is (= 2 (is/read i buf 0 8)))
      (is (= "yz" (String. buf 0 2 "UTF-8")))
      (is (= -1 (is/read i buf 0 8)) "the end after the writer closed")
      (is (= -1 (is/read i)))
      (is/close i)))
  (testing "a read blocks until a write; a write blocks while the pipe is full"
    (let [o (os/new) i (is/new o 4)
          reader (future (is/read i))]
      (Thread/sleep 200)
      (is (not (realized? reader)))
      (os/write o 7)
      (is (= 7 (deref reader 5000 :timeout)))
      (let [writer (future (os/write o (bytes-of "0123456789") 0 10) :written)]
        (Thread/sleep 200)
        (is (not (realized? writer)) "10 bytes do not fit in 4")
        (is (= "0123456789" (String. (let [b (byte-array 10)]
                                       (loop [off 0]
                                         (if (< off 10) (recur (+ off (is/read i b off (- 10 off)))) b)))
                                     "UTF-8")))
        (is (= :written (deref writer 5000 :timeout))))))
  (testing "Java's IOExceptions as :bbssh/io-error"
    (let [lonely (is/new)]
      (is (= {:type :bbssh/io-error :message "Pipe not connected"} (select-keys (ex #(is/read lonely)) [:type :message]))))
    (is (= "Pipe not connected" (:message (ex #(os/write (os/new) 1)))))
    (let [i (is/new) o (os/new i)]
      (is (= "Already connected" (:message (ex #(is/connect i (os/new))))))
      (is/close i)
      (is (= :bbssh/io-error (:type (ex #(os/write o 1)))) "the reader is gone")
      (is (= :bbssh/io-error (:type (ex #(is/read i))))))
    (is (= :bbssh/bad-option (:type (ex #(is/new 0)))))
    (is (= :bbssh/unknown-handle (:type (ex #(is/read (os/new))))) "an output stream is not read")))

(deftest byte-array-input-streams
  (let [b (bais/new "hello")
        buf (byte-array 8)]
    (is (true? (bais/mark-supported b)))
    (is (= 5 (bais/available b)))
    (is (= 104 (bais/read b)))
    (bais/mark b 100)
    (is (= 2 (bais/skip b 2)))
    (is (= 2 (bais/read b buf 1 4)))
    (is (= "lo" (String. buf 1 2 "UTF-8")))
    (is (= -1 (bais/read b buf)))
    (is (= -1 (bais/read b)))
    (bais/reset b)
    (is (= 4 (bais/available b)) "back to the mark")
    (is (= 4 (bais/read b buf)))
    (is (= "ello" (String. buf 0 4 "UTF-8")))
    (is (= 0 (bais/skip b 5)))
    (bais/close b)
    (bais/reset b)
    (is (= 101 (bais/read b)) "close has no effect"))
  (is (= [-2 -1 0 65] (let [b (bais/new "A" "UTF-16") buf (byte-array 4)] (bais/read b buf) (vec buf))))
  (is (= [1 2 3] (let [b (bais/new (byte-array [1 2 3])) buf (byte-array 3)] (bais/read b buf 0 3) (vec buf))))
  (is (= :bbssh/bad-option (:type (ex #(bais/new 42)))))
  (is (= :bbssh/bad-option (:type (ex #(bais/new "x" "no-such-charset"))))))

(deftest byte-array-output-streams
  (let [b (baos/new)]
    (baos/write b 104)
    (baos/write b (bytes-of "xxiyy") 2 1)
    (is (= 2 (baos/size b)))
    (is (= "hi" (baos/to-string b)))
    (baos/write b (.getBytes "é" "ISO-8859-1") 0 1)
    (is (= "hié" (baos/to-string b "ISO-8859-1")))
    (is (= "hi\uFFFD" (baos/to-string b)) "invalid UTF-8 as Java decodes it")
    (is (= [104 105 -23] (vec (baos/to-byte-array b))))
    (let [pin (is/new) pout (os/new pin)]
      (baos/write-to b pout)
      (os/close pout)
      (is (= [104 105 -23] (vec (.readAllBytes (is/make-proxy pin))))))
    (baos/close b)
    (baos/write b 33)
    (is (= 4 (baos/size b)) "close has no effect")
    (baos/reset b)
    (is (= 0 (baos/size b)))
    (is (= "" (baos/to-string b))))
  (is (= 0 (baos/size (baos/new 1024))))
  (is (= :bbssh/bad-option (:type (ex #(baos/new -1))))))

(deftest pod-proxy-input-stream
  (testing "a channel reads its stdin from functions of the script"
    (let [src (java.io.ByteArrayInputStream. (bytes-of "from the script\n"))
          closed (promise)
          in (is/new-pod-proxy {:read (fn ([] (.read src))
                                        ([len] (let [b (byte-array len) n (.read src b)] [n (when (pos? n) b)])))
                                :available (fn [] (.available src))
                                :close (fn [] (deliver closed true))})
          out (baos/new)
          c (channel "cat" in out nil)]
      (is (= 0 (ch/wait c)))
      (is (= "from the script\n" (baos/to-string out)))
      (is (true? (deref closed 5000 :timeout)) ":close is called when the channel is done with it")))
  (testing "each read arity and available ask the script"
    (let [calls (atom [])
          in (is/new-pod-proxy {:read (fn ([] (swap! calls conj :byte) 120)
                                        ([len] (swap! calls conj len) [2 (byte-array [121 122 0 0])]))
                                :available (fn [] 42)})
          buf (byte-array 4)]
      (is (= 120 (is/read in)))
      (is (= 2 (is/read in buf 0 4)))
      (is (= [121 122] (take 2 buf)))
      (is (= 42 (is/available in)))
      (is (= [:byte 4] @calls))))
  (testing "a function that throws fails the read instead of hanging"
    (let [in (is/new-pod-proxy {:read (fn [& _] (throw (ex-info "broken source" {})))})]
      (let [e (ex #(is/read in (byte-array 4) 0 4))]
        (is (= :bbssh/io-error (:type e)))
        (is (str/includes? (:message e) "broken source"))))))

(deftest pod-proxy-output-stream
  (testing "a channel writes its stdout to functions of the script"
    (let [got (java.io.ByteArrayOutputStream.)
          events (atom [])
          out (os/new-pod-proxy {:write (fn [b] (if (bytes? b) (.write got ^bytes b) (.write got (int b))))
                                 :flush (fn [] (swap! events conj :flush))
                                 :close (fn [] (swap! events conj :close))})
          c (channel "printf 'to the script'" nil out nil)]
      (is (= 0 (ch/wait c)))
      (is (= "to the script" (String. (.toByteArray got) "UTF-8")))
      (is (= [:close] @events) "closed at the end of the output")
      (os/write out 33)
      (os/flush out)
      (is (= "to the script!" (String. (.toByteArray got) "UTF-8")) "a byte arrives as an int")
      (is (= [:close :flush] @events))))
  (testing "a function that throws fails the write"
    (let [out (os/new-pod-proxy {:write (fn [_] (throw (Exception. "disk full")))})]
      (is (= :bbssh/io-error (:type (ex #(os/write out (bytes-of "x") 0 1))))))))

(deftest make-proxies
  (testing "input: slurp a channel's stdout"
    (let [c (session/open-channel s "exec")]
      (ch/set-command c "seq 1 3")
      (let [out (is/make-proxy (ch/get-input-stream c))]
        (ch/connect c)
        (is (instance? java.io.PipedInputStream out))
        (is (= "1\n2\n3\n" (slurp out)))
        (is (= 0 (ch/wait c))))))
  (testing "output: flush means the bytes are in the pod stream, close closes it"
    (let [b (baos/new)
          o (os/make-proxy b)]
      (is (instance? java.io.PipedOutputStream o))
      (.write o (bytes-of "abc"))
      (.write o 100)
      (.write o (bytes-of "xxefx") 2 2)
      (.flush o)
      (is (= "abcdef" (baos/to-string b)))
      (.close o)))
  (testing "output into a pipe read by a channel: io/copy of a file to a command"
    (let [f (java.io.File/createTempFile "bbssh-proxy" ".txt")
          _ (spit f (apply str (repeat 10000 "line of text\n")))
          c (session/open-channel s "exec")
          out (baos/new)]
      (ch/set-command c "wc -l")
      (ch/set-output-stream c out)
      (let [stdin (os/make-proxy (ch/get-output-stream c))]
        (ch/connect c)
        (with-open [o stdin] (io/copy f o)))
      (is (= 0 (ch/wait c)))
      (is (= "10000" (str/trim (baos/to-string out))))
      (.delete f)))
  (testing "a byte that cannot be written makes close throw"
    (let [pin (is/new)
          pout (os/new pin)
          o (os/make-proxy pout)]
      (is/close pin)
      (.write o (bytes-of "lost"))
      (let [e (try (.close o) nil (catch clojure.lang.ExceptionInfo e (ex-data e)))]
        (is (= :bbssh/io-error (:type e)))))))

(c/run-tests-and-exit 'e2e.pod-streams-test)
