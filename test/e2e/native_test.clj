;; What makes the pod feel native to babashka users: docstrings and
;; arglists on every var (so (doc ...) and editors work), :debug-fn
;; logging, progress lines on long copies, and error messages a person can
;; act on.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.native-test
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.string :as str]
            [e2e.common :as c]
            [e2e.netutil :as n]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session]
         '[pod.epiccastle.bbssh.scp :as scp]
         '[pod.epiccastle.bbssh.sftp :as sftp]
         '[pod.epiccastle.bbssh.user-info :as user-info])

(def public-namespaces
  "Every client namespace scripts use (not the implementation ones)."
  (->> (all-ns) (map ns-name)
       (filter #(str/starts-with? (str %) "pod.epiccastle.bbssh."))
       (remove #(str/starts-with? (str %) "pod.epiccastle.bbssh.pod."))
       (remove #(str/includes? (str %) ".impl."))
       sort))

(def pod-namespaces
  (->> (all-ns) (map ns-name) (filter #(str/starts-with? (str %) "pod.epiccastle.bbssh.pod.")) sort))

(deftest doc-and-arglists-on-every-var
  (testing "(doc bbssh/ssh) shows the docstring, arglists and an example"
    (let [m (meta #'bbssh/ssh)
          shown (with-out-str (clojure.repl/doc pod.epiccastle.bbssh.core/ssh))]
      (is (str/includes? (:doc m) "Opens an SSH session"))
      (is (= '([hostname & [options]]) (:arglists m)))
      (is (str/includes? shown "([hostname & [options]])"))
      (is (str/includes? shown "(ssh \""))))
  (testing "every public client function has a docstring with an example and arglists"
    (is (<= 5 (count public-namespaces)) (str "client namespaces: " (vec public-namespaces)))
    (doseq [ns public-namespaces
            [sym v] (ns-publics ns)
            ;; defrecord's ->R and map->R, and the constructor var babashka's
            ;; defrecord adds (__->R__ctor__), have no docstring to give
            :when (and (fn? @v) (not (re-find #"^(->|map->|__->)" (name sym))))]
      (let [{:keys [doc arglists]} (meta v)]
        (is (seq arglists) (str ns "/" sym " has no :arglists"))
        (is (and doc (re-find #"(?i)e\.g\. \(|\n\s{2,}\(" doc)) (str ns "/" sym " has no docstring with an example")))))
  (testing "every pod var carries the meta describe sent: a docstring with an example and arglists"
    (is (<= 8 (count pod-namespaces)) (str "pod namespaces: " (vec pod-namespaces)))
    (doseq [ns pod-namespaces
            [sym v] (ns-publics ns)]
      (let [{:keys [doc arglists]} (meta v)]
        (is (seq arglists) (str ns "/" sym " has no :arglists"))
        (is (and doc (re-find #"(?i)e\.g\. \(|\n\s{2,}\(" doc)) (str ns "/" sym " has no docstring with an example"))))))

(defn collect-log
  "A :debug-fn that gathers [level message] pairs, and the atom."
  []
  (let [log (atom [])]
    [log (fn [level message] (swap! log conj [level message]))]))

(defn wait-for [pred]
  (loop [n 0] (when (and (not (pred)) (< n 100)) (Thread/sleep 50) (recur (inc n)))))

(deftest debug-fn-logs-each-step
  (let [before (set (babashka.pods/invoke "pod.epiccastle.bbssh" 'pod.epiccastle.bbssh.pod.registry/handles []))
        [log f] (collect-log)
        s (bbssh/ssh c/host (c/opts {:debug-fn f}))]
    (wait-for #(some (fn [[_ m]] (str/includes? m "authenticated as")) @log))
    (let [messages (map second @log)]
      (is (some #(str/starts-with? % (str "connecting to " c/host ":" c/port " as " c/user)) messages))
      (is (some #(re-find #"server host key ssh-ed25519 SHA256:\S+ accepted" %) messages))
      (is (some #(str/includes? % "auth methods to try: publickey") messages))
      (is (some #(re-find #"connected to .* \(SSH-2.0-OpenSSH.*\), authenticated as" %) messages))
      (is (every? #{0 1 2 3} (map first @log)) "levels are JSch's 0-3"))
    (testing "the logger lives and dies with the session's handle"
      (babashka.pods/invoke "pod.epiccastle.bbssh" 'pod.epiccastle.bbssh.pod.registry/release [s])
      ;; handles, not counts: the cleaner may free an earlier test's
      ;; dropped handle meanwhile
      (is (empty? (remove before (babashka.pods/invoke "pod.epiccastle.bbssh" 'pod.epiccastle.bbssh.pod.registry/handles [])))))))

(deftest debug-fn-sees-failures-and-may-throw
  (let [[log f] (collect-log)]
    (is (thrown? clojure.lang.ExceptionInfo (bbssh/ssh c/host (c/opts {:port 1 :debug-fn f}))))
    (wait-for #(some (fn [[level _]] (= 3 level)) @log))
    (is (some (fn [[level m]] (and (= 3 level) (str/includes? m "cannot connect to 127.0.0.1:1"))) @log)))
  (testing "a debug-fn that throws is reported once and the connection goes on"
    (let [err (java.io.StringWriter.)
          s (binding [*err* err]
              (let [s (bbssh/ssh c/host (c/opts {:debug-fn (fn [_ _] (throw (ex-info "broken logger" {})))}))]
                (Thread/sleep 300)
                s))]
      (is (= "ok\n" (-> (bbssh/exec s "echo ok" {:out :string}) deref :out)))
      (is (= 1 (count (re-seq #"the :debug-fn threw: broken logger" (str err)))))
      (session/disconnect s))))

(def s (bbssh/ssh c/host (c/opts)))

(deftest progress-lines-on-long-copies
  (let [dir (n/temp-dir)
        big (java.io.File. dir "big.bin")
        remote (str "progress-" (System/nanoTime) ".bin")
        err (java.io.StringWriter.)]
    (with-open [out (java.io.FileOutputStream. big)]
      (.write out (byte-array (* 3 1024 1024))))
    (binding [*err* err]
      (scp/scp-to [big] remote {:session s :progress true}))
    (let [shown (str err)]
      (is (str/includes? shown "big.bin"))
      (is (re-find #"3\.0 MiB / 3\.0 MiB" shown) shown)
      (is (re-find #"ETA" shown)))
    (let [err (java.io.StringWriter.)
          back (java.io.File. dir "back.bin")]
      (binding [*err* err]
        (sftp/get s remote (str back) {:progress true}))
      (is (= (* 3 1024 1024) (.length back)))
      (is (re-find #"back\.bin\s+3\.0 MiB / 3\.0 MiB" (str err)) (str err)))
    (sftp/rm s remote)))

(defn failure [f]
  (try (f) nil (catch clojure.lang.ExceptionInfo e {:message (ex-message e) :type (:type (ex-data e))})))

(deftest error-messages-say-what-went-wrong
  (doseq [[what f type pattern]
          [["refused port" #(bbssh/ssh c/host (c/opts {:port 1})) :bbssh/connect-failed #"cannot connect to 127\.0\.0\.1:1: .*refused"]
           ["unknown user" #(bbssh/ssh c/host (c/opts {:username "nobody-here"})) :bbssh/auth-failed #"authentication failed for nobody-here@127\.0\.0\.1:\d+; tried publickey"]
           ["typo in an option" #(bbssh/ssh c/host (c/opts {:usernme "me"})) :bbssh/bad-option #"unknown option :usernme"]
           ["missing key file" #(bbssh/ssh c/host (c/opts {:identity "/no/such/key"})) :bbssh/bad-option #"identity file /no/such/key cannot be read"]
           ["unknown host key" #(bbssh/ssh c/host (c/opts {:known-hosts (str (doto (java.io.File/createTempFile "known_hosts" "") (.deleteOnExit)))})) :bbssh/host-key-unknown #"unknown host key for \[127\.0\.0\.1\]:\d+: \S+ key fingerprint is SHA256:\S+; no way to ask whether to trust it"]
           ["bad forward spec" #(session/set-port-forwarding-local s "8080:nowhere") :bbssh/bad-option #"8080:nowhere"]
           ["missing remote file" #(sftp/stat s "no/such/file") :bbssh/not-found #"no/such/file"]
           ["scp of a missing file" #(scp/scp-from "no-such-file" (str (doto (java.io.File/createTempFile "scp-target" "") (.deleteOnExit))) {:session s}) nil #"no-such-file"]
           ["released session" #(bbssh/exec :bbssh/session-99999 "true") :bbssh/unknown-handle #"session-99999"]]]
    (testing what
      (let [e (failure f)]
        (is e (str what ": no error"))
        (when type (is (= type (:type e)) (str what ": " (pr-str e))))
        (is (re-find pattern (str (:message e))) (str what ": " (pr-str e)))
        (is (not (re-find #"(?i)panic|goroutine|nil pointer|java\.lang\." (str (:message e)))) (str what ": " (:message e)))))))

(c/run-tests-and-exit 'e2e.native-test)
