;; Bad input never breaks the pod: a table of malformed calls across the
;; namespaces (wrong arity, wrong types, unknown and released handles, huge
;; values, negative and too large ports, bad addresses, bad spec strings).
;; Each must throw an ex-info whose ex-data has a namespaced :type and
;; whose message says what was wrong, and right after it the pod must
;; still answer a call on a good session opened at the start.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(ns e2e.malformed-test
  (:require [babashka.pods :as pods]
            [clojure.string :as str]
            [clojure.test :refer [deftest is testing]]
            [e2e.common :as c]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session]
         '[pod.epiccastle.bbssh.scp :as scp]
         '[pod.epiccastle.bbssh.sftp :as sftp]
         '[pod.epiccastle.bbssh.user-info :as user-info]
         '[pod.epiccastle.bbssh.pod.session :as pod-session]
         '[pod.epiccastle.bbssh.pod.exec :as pod-exec]
         '[pod.epiccastle.bbssh.pod.scp :as pod-scp]
         '[pod.epiccastle.bbssh.pod.sftp :as pod-sftp]
         '[pod.epiccastle.bbssh.pod.registry :as registry])

;; The good session: every malformed call is followed by a call on it.
(def s (bbssh/ssh c/host (c/opts)))

;; A released session handle, and the handles that died with a session.
(def released (doto (bbssh/ssh c/host (c/opts)) registry/release))
(def down (bbssh/ssh c/host (c/opts)))
(def down-process (pod-exec/start down "true" {:out :discard :err :discard}))
(session/disconnect down)

;; A live process handle (a handle of the wrong kind where a session goes)
;; and a remote file handle that was closed.
(def process (pod-exec/start s "true" {:out :discard :err :discard}))
(sftp/write s "malformed-test.txt" "x")
(def closed-file (doto (pod-sftp/open s "malformed-test.txt" :read 0) pod-sftp/file-close))

(def huge "A 10 MiB string." (apply str (repeat (* 10 1024 1024) \x)))
(def tmp (str (System/getProperty "java.io.tmpdir") "/bbssh-malformed-" (System/nanoTime)))
(def fwd {:local-port 0 :remote-host "127.0.0.1" :remote-port 22})

(def calls
  "[what f args :type message-substring]: each call (apply f args) must
  throw an ex-info of that :type whose message contains the substring."
  [;; wrong arity (pod vars; client functions throw Clojure's ArityException)
   ["connected? of no args" pod-session/connected? [] :bbssh/arity "wrong number of args (0) passed to pod.epiccastle.bbssh.pod.session/connected?, expected 1"]
   ["connected? of two args" pod-session/connected? [s s] :bbssh/arity "wrong number of args (2)"]
   ["exec start of one arg" pod-exec/start [s] :bbssh/arity "expected 2 to 3"]
   ["scp command of two args" pod-scp/command [:to "x"] :bbssh/arity "expected 3"]
   ["sftp write of five args" pod-sftp/write [s "x" "eA==" 420 :extra] :bbssh/arity "wrong number of args (5)"]
   ["unknown var" #(pods/invoke "pod.epiccastle.bbssh" 'pod.epiccastle.bbssh.pod.session/nope []) [] :bbssh/unknown-var "var not found: pod.epiccastle.bbssh.pod.session/nope"]

   ;; wrong types
   ["host as an integer" bbssh/ssh [42] :bbssh/bad-argument "argument 1 must be a string, got integer 42"]
   ["ssh options as a string" bbssh/ssh [c/host "port=22"] :bbssh/bad-option "the options of ssh must be a map"]
   ["port as a string" bbssh/ssh [c/host (c/opts {:port "22"})] :bbssh/bad-option ":port must be an integer, got string \"22\""]
   ["port as a float" bbssh/ssh [c/host (c/opts {:port 22.5})] :bbssh/bad-option ":port must be an integer, got float 22.5"]
   ["username as an integer" bbssh/ssh [c/host (c/opts {:username 42})] :bbssh/bad-option ":username must be a string"]
   ["identity as a map" bbssh/ssh [c/host (c/opts {:identity {:file "id"}})] :bbssh/bad-option "option :identity must be a file name"]
   ["unknown ssh option" bbssh/ssh [c/host (c/opts {:prot 22})] :bbssh/bad-option "unknown option :prot"]
   ["known-hosts as an integer" bbssh/ssh [c/host (c/opts {:known-hosts 42})] :bbssh/bad-option "option :known-hosts must be a file name or false"]
   ["strict checking as :maybe" bbssh/ssh [c/host (c/opts {:strict-host-key-checking :maybe})] :bbssh/bad-option "got keyword :maybe"]
   ["connection-options as a string" bbssh/ssh [c/host (c/opts {:connection-options "kex=x"})] :bbssh/bad-option ":connection-options must be a map"]
   [":kex as an integer" bbssh/ssh [c/host (c/opts {:connection-options {:kex 42}})] :bbssh/bad-option ":kex must be a string"]
   ["forwards as a number" bbssh/ssh [c/host (c/opts {:port-forward-local 8080})] :bbssh/bad-option ":port-forward-local must be a vector of forwards"]
   ["forwards as one string" bbssh/ssh [c/host (c/opts {:port-forward-local "0:127.0.0.1:22"})] :bbssh/bad-option ":port-forward-local must be a vector"]
   ["proxy as a string" session/set-proxy [s "socks5://h:1080"] :bbssh/bad-option "option :proxy must be a map"]
   ["proxy of an unknown type" bbssh/ssh [c/host (c/opts {:proxy {:type :ftp :host "127.0.0.1" :port 21}})] :bbssh/bad-option "unknown proxy type \"ftp\""]
   ["jump host as an integer" bbssh/ssh [c/host (c/opts {:jump-host 42})] :bbssh/bad-option "option :jump-host must be a spec"]
   ["command as an integer" bbssh/exec [s 42] :bbssh/bad-argument "argument 2 must be a string, got integer 42"]
   ["exec options as a string" bbssh/exec [s "true" ":out :string"] :bbssh/bad-option "the options of exec must be a map"]
   [":out as an unknown keyword" bbssh/exec [s "true" {:out :text}] :bbssh/bad-option ":out must be :stream, :string, :bytes, :discard, a java.io.OutputStream or a pod output stream, got :text"]
   [":err a session, not a stream" bbssh/exec [s "true" {:err s}] :bbssh/bad-option ":err must be a pod output stream here: handle :bbssh/session-"]
   [":in as a number" bbssh/exec [s "cat" {:in 42}] :bbssh/bad-option ":in must be a string, bytes, :stream, a java.io.InputStream, a pod input stream or a process, got 42"]
   [":in a session, not a stream" bbssh/exec [s "cat" {:in s}] :bbssh/bad-option ":in must be a pod input stream here: handle :bbssh/session-"]
   [":in a released stream" bbssh/exec [s "cat" {:in :bbssh/input-stream-999999}] :bbssh/bad-option ":in must be a pod input stream here: unknown handle :bbssh/input-stream-999999"]
   [":in a plain keyword" bbssh/exec [s "cat" {:in :keyboard}] :bbssh/bad-option ":in must be a string, bytes, :stream, a java.io.InputStream, a pod input stream or a process, got :keyboard"]
   [":in-enc unknown" bbssh/exec [s "cat" {:in "x" :in-enc "no-such-charset"}] :bbssh/bad-option ":in-enc must name a supported character set"]
   [":out-enc unknown" bbssh/exec [s "true" {:out :string :out-enc "klingon"}] :bbssh/bad-option ":out-enc must name a supported character set"]
   [":pty as a string" bbssh/exec [s "true" {:pty "yes"}] :bbssh/bad-option ":pty must be true, false or a map"]
   [":pty :cols as a string" bbssh/exec [s "true" {:pty {:cols "80"}}] :bbssh/bad-option ":cols must be an integer"]
   [":env as a string" bbssh/exec [s "true" {:env "A=1"}] :bbssh/bad-option ":env must be a map"]
   [":env value as an integer" bbssh/exec [s "true" {:env {"A" 1}}] :bbssh/bad-option ":env value of A must be a string"]
   ["timeout as a string" session/connect [s "10"] :bbssh/bad-argument "timeout must be an integer, got string \"10\""]
   ["port as a map" session/set-port [s {:port 22}] :bbssh/bad-argument "argument 2 must be an integer, got a map"]
   ["host as a keyword" session/set-host [s :localhost] :bbssh/bad-argument "argument 2 must be a string, got keyword :localhost"]
   ["password as an integer" session/set-password [s 1234] :bbssh/bad-argument "must be a string, got"]
   ["config key unknown" session/set-config [s :chiper "aes128-ctr"] :bbssh/bad-option "unknown config key \"chiper\""]
   ["config value as an integer" session/set-config [s :cipher 42] :bbssh/bad-option "a config value is a string, keyword or boolean"]
   ["set-configs of a string" session/set-configs [s "cipher=x"] :bbssh/bad-option "the settings of set-configs must be a map"]
   ["forward as a number" session/set-port-forwarding-local [s 8080] :bbssh/bad-option "a forward is a map or a spec string"]
   ["unknown forward option" session/set-port-forwarding-local [s (assoc fwd :lcoal-port 1)] :bbssh/bad-option "unknown local forward option :lcoal-port"]
   ["handler not a function" session/set-port-forwarding-remote [s {:remote-port 0 :handler "echo"}] :bbssh/bad-option ":handler must be a function, got \"echo\""]
   ["scp sources as a string" scp/scp-to ["a.txt" "x" {:session s}] :bbssh/bad-argument "scp-to sources must be a vector"]
   ["scp data as a number" scp/scp-to [[[42 {:filename "f"}]] "x" {:session s}] :bbssh/bad-argument "scp data must be a string, bytes or an InputStream"]
   ["scp data without :filename" scp/scp-to [[["data" {}]] "x" {:session s}] :pod.epiccastle.bbssh.scp/filename-error "scp data info must contain :filename"]
   ["scp options as a string" scp/scp-to [[["d" {:filename "f"}]] "x" "recurse"] :bbssh/bad-option "the options of scp-to must be a map"]
   ["scp without a session" scp/scp-from ["x" tmp {}] :bbssh/bad-argument "expected a session handle, got nil"]
   ["scp remote path as an integer" scp/scp-to [[["d" {:filename "f"}]] 42 {:session s}] :bbssh/bad-argument "must be a string, got integer 42"]
   ["scp direction unknown" pod-scp/command [:sideways "x" {}] :bbssh/bad-option "direction must be :to or :from, got :sideways"]
   ["sftp mode as a string" sftp/chmod [s "malformed-test.txt" "0755"] :bbssh/bad-argument "mode must be an integer, got string \"0755\""]
   ["sftp content as a number" sftp/write [s "x" 42] :bbssh/bad-argument "expected a string or a byte array"]
   ["sftp options as a string" sftp/get [s "x" tmp "recurse"] :bbssh/bad-option "the options of an sftp copy must be a map"]
   ["sftp encoding unknown" sftp/read-all [s "malformed-test.txt" {:encoding "klingon"}] :bbssh/bad-option ":encoding must name a supported character set"]
   ["sftp bytes not base64" pod-sftp/write [s "x" "not base64!" 420] :bbssh/bad-argument "must be base64 bytes"]
   ["user-info of a string" user-info/new ["prompt"] :bbssh/bad-option "user-info callbacks must be a map"]
   ["user-info unknown callback" user-info/new [{:get-pasword (fn [] "pw")}] :bbssh/bad-option "unknown user-info callbacks: (:get-pasword)"]
   ["an unreadable argument" session/connected? [(Object.)] :bbssh/bad-argument "cannot read the arguments of pod.epiccastle.bbssh.pod.session/connected?"]
   ["stream as a string" pod-exec/read [process "out" 10] :bbssh/bad-argument "stream must be a keyword, got string \"out\""]

   ;; unknown handles
   ["unknown session" bbssh/exec [:bbssh/session-999999 "true"] :bbssh/unknown-handle "unknown session handle :bbssh/session-999999 (released or never created)"]
   ["a string as a session" session/connected? ["session-1"] :bbssh/bad-argument "expected a session handle, got string \"session-1\""]
   ["a foreign keyword" session/connected? [:foo/session-1] :bbssh/unknown-handle "not a handle: :foo/session-1"]
   ["a process as a session" session/connected? [process] :bbssh/unknown-handle "is a process, expected a session"]
   ["a session as a process" pod-exec/wait [s] :bbssh/unknown-handle "is a session, expected a process"]
   ["unknown process" pod-exec/wait [:bbssh/process-999999] :bbssh/unknown-handle "unknown process handle :bbssh/process-999999"]
   ["unknown user-info" bbssh/ssh [c/host (c/opts {:user-info :bbssh/user-info-999999})] :bbssh/unknown-handle "unknown user-info handle"]
   ["unknown remote file" pod-sftp/file-read [:bbssh/remote-file-999999 10] :bbssh/unknown-handle "unknown remote-file handle"]
   ["exec without a session" bbssh/exec [nil "true"] :bbssh/bad-argument "exec needs a session"]
   ["release of a number" registry/release [42] :bbssh/bad-argument "expected a handle, got integer 42"]

   ;; released handles
   ["exec on a released session" bbssh/exec [released "true"] :bbssh/unknown-handle "released or never created"]
   ["connected? of a released session" session/connected? [released] :bbssh/unknown-handle "unknown session handle"]
   ["forwards of a released session" session/get-port-forwarding-local [released] :bbssh/unknown-handle "unknown session handle"]
   ["sftp on a released session" sftp/ls [released "."] :bbssh/unknown-handle "unknown session handle"]
   ["scp on a released session" scp/scp-to [[["d" {:filename "f"}]] "x" {:session released}] :bbssh/unknown-handle "unknown session handle"]
   ["release twice" registry/release [released] :bbssh/unknown-handle "unknown handle"]
   ["a process of a disconnected session" pod-exec/wait [down-process] :bbssh/unknown-handle "unknown process handle"]
   ["exec on a disconnected session" bbssh/exec [down "true"] :bbssh/not-connected "is not connected"]
   ["a closed remote file" pod-sftp/file-read [closed-file 10] :bbssh/unknown-handle "unknown remote-file handle"]
   ["closing a file twice" pod-sftp/file-close [closed-file] :bbssh/unknown-handle "unknown handle"]

   ;; huge values
   ["a 10 MiB host" bbssh/ssh [huge (c/opts)] :bbssh/bad-option "host name of 10485760 bytes is too long"]
   ["a 10 MiB user" bbssh/ssh [c/host (c/opts {:username huge})] :bbssh/bad-option "user name of 10485760 bytes is too long"]
   ["a 10 MiB command" bbssh/exec [s huge] :bbssh/bad-option "command of 10485760 bytes is too long (at most 131071)"]
   ["a 10 MiB environment value" bbssh/exec [s "true" {:env {"A" huge}}] :bbssh/bad-option "environment variable A of 10485762 bytes is too long"]
   ["a 10 MiB forward target" session/set-port-forwarding-local [s (assoc fwd :remote-host huge)] :bbssh/bad-option "target host of 10485760 bytes is too long"]
   ["a 10 MiB sftp path" sftp/stat [s huge] :bbssh/bad-option "path of 10485760 bytes is too long"]
   ["a 10 MiB config key" session/get-config [s huge] :bbssh/bad-option "unknown config key \"xxxx"]
   ["a 10 MiB handle" session/connected? [huge] :bbssh/bad-argument "expected a session handle, got a string"]
   ["port 2^63-1" bbssh/ssh [c/host (c/opts {:port Long/MAX_VALUE})] :bbssh/bad-option "got 9223372036854775807"]
   ["port 2^64 as a big integer" session/set-port [s 18446744073709551616N] :bbssh/bad-argument "argument 2 is out of range, got integer 18446744073709551616"]
   ["port 99999999999" bbssh/ssh [c/host (c/opts {:port 99999999999})] :bbssh/bad-option "option :port must be between 1 and 65535, got 99999999999"]
   ["a huge read size" pod-exec/read [process :out 1e300] :bbssh/bad-argument "argument 3 must be an integer, got float 1e+300"]
   ["a huge scp buffer" scp/scp-from ["x" tmp {:session s :buffer-size 999999999999}] :bbssh/bad-option ":buffer-size must be between 1 and 64 MiB"]
   ["a huge sftp mode" sftp/mkdir [s "d" {:mode 99999999}] :bbssh/bad-option "mode must be between 0 and 07777"]

   ;; negative ports and ports past 65535
   ["port -1" bbssh/ssh [c/host (c/opts {:port -1})] :bbssh/bad-option "option :port must be between 1 and 65535, got -1"]
   ["port 65536" bbssh/ssh [c/host (c/opts {:port 65536})] :bbssh/bad-option "option :port must be between 1 and 65535, got 65536"]
   ["set-port -22" session/set-port [s -22] :bbssh/bad-option "port must be between 1 and 65535, got -22"]
   ["set-port 65536" session/set-port [s 65536] :bbssh/bad-option "got 65536"]
   ["local port -1" session/set-port-forwarding-local [s (assoc fwd :local-port -1)] :bbssh/bad-option ":local-port must be between 0 and 65535, got -1"]
   ["local port 65536" session/set-port-forwarding-local [s (assoc fwd :local-port 65536)] :bbssh/bad-option ":local-port must be between 0 and 65535, got 65536"]
   ["remote target port 0" session/set-port-forwarding-local [s (assoc fwd :remote-port 0)] :bbssh/bad-option ":remote-port must be between 1 and 65535, got 0"]
   ["remote port -5" session/set-port-forwarding-remote [s {:remote-port -5 :local-port 22}] :bbssh/bad-option ":remote-port must be between 0 and 65535, got -5"]
   ["remote port 99999" session/set-port-forwarding-remote [s {:remote-port 99999 :local-port 22}] :bbssh/bad-option "got 99999"]
   ["dynamic port 65536" session/set-port-forwarding-dynamic [s {:local-port 65536}] :bbssh/bad-option ":local-port must be between 0 and 65535, got 65536"]
   ["proxy port 70000" bbssh/ssh [c/host (c/opts {:proxy {:type :socks5 :host "127.0.0.1" :port 70000}})] :bbssh/bad-option "socks5 proxy port 70000 is out of range"]
   ["connect timeout -1" session/connect [s -1] :bbssh/bad-option "timeout must be >= 0 ms, got -1"]
   ["connect-timeout option -5" bbssh/ssh [c/host (c/opts {:connect-timeout -5})] :bbssh/bad-option "option :connect-timeout must be a number of milliseconds >= 0, got -5"]

   ;; bad addresses
   ["a host in .invalid" bbssh/ssh ["no-such-host.invalid" (c/opts {:connect-timeout 10000})] :bbssh/connect-failed "no-such-host.invalid"]
   ["IPv4 999.1.1.1" bbssh/ssh ["999.1.1.1" (c/opts {:connect-timeout 10000})] :bbssh/connect-failed "999.1.1.1"]
   ["unclosed IPv6 [::1" bbssh/ssh ["[::1" (c/opts {:connect-timeout 10000})] :bbssh/connect-failed "missing ']' in address"]
   ["an empty host" bbssh/ssh ["" (c/opts)] :bbssh/bad-option "host must not be empty"]
   ["set-host empty" session/set-host [s ""] :bbssh/bad-option "host must not be empty"]
   ["a jump host in .invalid" bbssh/ssh [c/host (c/opts {:jump-host "me@no-such-host.invalid" :connect-timeout 10000})] :bbssh/connect-failed "no-such-host.invalid"]
   ["a bind address 999.1.1.1" session/set-port-forwarding-local [s (assoc fwd :bind-address "999.1.1.1")] :bbssh/forward-failed "cannot listen on 999.1.1.1:0"]
   ["a bind address [::1" session/set-port-forwarding-local [s (assoc fwd :bind-address "[::1")] :bbssh/forward-failed "cannot listen on [[::1]:0"]
   ["a bind address in .invalid" session/set-port-forwarding-dynamic [s {:local-port 0 :bind-address "no-such-host.invalid"}] :bbssh/forward-failed "no-such-host.invalid"]
   ["a remote bind address 999.1.1.1" session/set-port-forwarding-remote [s {:bind-address "999.1.1.1" :remote-port 0 :local-port 22}] :bbssh/forward-failed "999.1.1.1"]

   ;; bad spec strings
   ["spec port 99999" session/set-port-forwarding-local [s "99999:127.0.0.1:22"] :bbssh/bad-option "port 99999 is out of range 0-65535"]
   ["spec with an unclosed bracket" session/set-port-forwarding-local [s "8080:[::1:80"] :bbssh/bad-option "an opening bracket is never closed"]
   ["spec with a space" session/set-port-forwarding-local [s "80 80:h:1"] :bbssh/bad-option "space or control character"]
   ["spec of one field" session/set-port-forwarding-local [s "8080"] :bbssh/bad-option "bad local forward spec \"8080\""]
   ["spec with a negative port" session/set-port-forwarding-dynamic [s "-1"] :bbssh/bad-option "bad dynamic forward spec \"-1\""]
   ["a 10 MiB spec" session/set-port-forwarding-remote [s huge] :bbssh/bad-option "remote forward spec of 10485760 bytes is too long"]
   ["jump host spec unclosed" bbssh/ssh [c/host (c/opts {:jump-host "me@[::1:22"})] :bbssh/bad-option "an opening bracket is never closed"]
   ["delete of a forward never made" session/delete-port-forwarding-local [s {:local-port 1}] :bbssh/no-such-forward "no local forward listens on port 1"]])

(def tried (atom 0))

(defn outcome
  "What (apply f args) did: {:thrown e} or {:returned v}."
  [f args]
  (try {:returned (apply f args)}
       (catch Throwable e {:thrown e})))

(defn pod-answers?
  "The pod still answers on the good session."
  []
  (and (true? (session/connected? s))
       (= "ok\n" (:out @(bbssh/exec s "echo ok" {:out :string})))))

(deftest every-malformed-call-is-an-ex-info-with-a-type-and-the-pod-goes-on
  (doseq [[what f args typ message] calls]
    (swap! tried inc)
    (testing what
      (let [{:keys [thrown returned]} (outcome f args)
            data (ex-data thrown)]
        (is (instance? clojure.lang.ExceptionInfo thrown)
            (if thrown
              (str "threw " (.getName (class thrown)) ": " (ex-message thrown))
              ;; (pr-str of an SshProcess record is ambiguous on the JVM)
              (str "returned " (if (nil? returned) "nil" (.getName (class returned))))))
        (is (= typ (:type data)) (str "ex-data " (pr-str data)))
        (is (and (keyword? (:type data)) (namespace (:type data))) "a namespaced :type")
        (is (str/includes? (str (ex-message thrown)) message)
            (str "message " (pr-str (ex-message thrown))))
        (is (< (count (str (ex-message thrown))) 1000) "the message does not echo a huge value"))
      (is (pod-answers?) "the next call is answered")))
  (println "malformed calls tried:" @tried)
  (testing "after the whole table"
    (is (= (count calls) @tried))
    (is (= "still here\n" (:out @(bbssh/exec s "echo still here" {:out :string}))))
    (is (= "x" (sftp/read-all s "malformed-test.txt")) "sftp still works after the huge path")
    (let [port (session/set-port-forwarding-local s fwd)]
      (is (pos? port))
      (session/delete-port-forwarding-local s {:local-port port}))
    (sftp/rm s "malformed-test.txt")))

(c/run-tests-and-exit 'e2e.malformed-test)
