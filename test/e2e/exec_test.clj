;; The first capability: connect with a key, run commands, get output and
;; exit codes; errors of connect and of bad calls as ex-info.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(ns e2e.exec-test
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.string :as str]
            [e2e.common :as c]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session])

(def s (bbssh/ssh c/host (c/opts)))

(defn ex [f]
  (try (f) nil (catch clojure.lang.ExceptionInfo e {:message (ex-message e) :data (ex-data e)})))

(deftest describe-creates-the-api-namespaces
  (doseq [ns '[pod.epiccastle.bbssh.core pod.epiccastle.bbssh.session pod.epiccastle.bbssh.scp]]
    (is (find-ns ns) (str ns " was not created from describe")))
  (is (string? (:doc (meta #'bbssh/exec))) "client-side functions carry docstrings"))

(deftest connect-returns-a-stable-handle
  (is (keyword? s))
  (is (re-matches #"bbssh/session-\d+" (subs (str s) 1)))
  (is (true? (session/connected? s)))
  (is (= {s :yes} (assoc {} s :yes)) "handles work as map keys"))

(deftest exec-string-output
  (is (= "hi\n" (-> (bbssh/exec s "echo hi" {:out :string}) deref :out)))
  (is (= 3 (:exit @(bbssh/exec s "exit 3"))))
  (let [r @(bbssh/exec s "echo out; echo err >&2; exit 7" {:out :string :err :string})]
    (is (= {:exit 7 :out "out\n" :err "err\n"} (select-keys r [:exit :out :err])))
    (is (= "echo out; echo err >&2; exit 7" (:cmd r)))))

(deftest exec-streams-and-stdin
  (is (= "streamed\n" (slurp (:out (bbssh/exec s "echo streamed")))))
  (is (= "in from a string" (-> (bbssh/exec s "cat" {:in "in from a string" :out :string}) deref :out)))
  (is (= [1 2 3] (vec (-> (bbssh/exec s "cat" {:in (byte-array [1 2 3]) :out :bytes}) deref :out))))
  (let [p (bbssh/exec s "wc -c" {:in :stream :out :string})]
    (.write ^java.io.OutputStream (:in p) (.getBytes "12345"))
    (.close ^java.io.OutputStream (:in p))
    (is (= "5" (clojure.string/trim (:out @p)))))
  (let [in (java.io.ByteArrayInputStream. (byte-array (range 100)))]
    (is (= 100 (count (-> (bbssh/exec s "cat" {:in in :out :bytes}) deref :out)))))
  (let [sink (java.io.ByteArrayOutputStream.)]
    @(bbssh/exec s "printf abc" {:out sink})
    (is (= "abc" (str sink))))
  (testing "piping remote to remote through the local machine"
    (is (= "3\n" (-> (bbssh/exec s "printf abc")
                     (bbssh/exec "wc -c" {:session s :out :string})
                     deref :out)))))

(deftest pty-env-and-signals
  (let [s (bbssh/ssh c/host (c/opts))]
    (is (re-find #"^/dev/pts/\d+" (-> (bbssh/exec s "tty" {:pty true :out :string}) deref :out)))
    (is (re-find #"^not a tty" (-> (bbssh/exec s "tty" {:out :string}) deref :out)))
    (is (= "120 40" (str/trim (-> (bbssh/exec s "stty size | awk '{print $2, $1}'" {:pty {:cols 120 :rows 40} :out :string}) deref :out))))
    (is (= "xterm-256color" (str/trim (-> (bbssh/exec s "echo $TERM" {:pty {:term "xterm-256color"} :out :string}) deref :out))))
    (is (= "bar\n" (-> (bbssh/exec s "echo $BBSSH_FOO" {:env {"BBSSH_FOO" "bar"} :out :string}) deref :out)))
    (testing "the exit signal is reported"
      (let [res @(bbssh/exec s "kill -TERM $$" {:out :discard})]
        (is (= "TERM" (:signal res)))))))

(deftest piping-local-to-remote-to-remote
  (let [s (bbssh/ssh c/host (c/opts))
        data (apply str (repeat 20000 "line of text\n"))
        p1 (bbssh/exec s "cat" {:in (java.io.ByteArrayInputStream. (.getBytes data))})
        p2 (bbssh/exec p1 "wc -l" {:session s :out :string})]
    (is (= "20000" (str/trim (:out @p2))))))

(deftest connect-errors
  (let [e (ex #(bbssh/ssh c/host (c/opts {:port 1})))]
    (is (= :bbssh/connect-failed (-> e :data :type)))
    (is (re-find #"127.0.0.1:1" (:message e))))
  (let [e (ex #(bbssh/ssh c/host (c/opts {:username "nobody-here"})))]
    (is (= :bbssh/auth-failed (-> e :data :type)))
    (is (re-find #"authentication failed for nobody-here@" (:message e))))
  (let [empty-kh (str (doto (java.io.File/createTempFile "known_hosts" "") (.deleteOnExit)))
        e (ex #(bbssh/ssh c/host (c/opts {:known-hosts empty-kh})))]
    (is (= :bbssh/host-key-unknown (-> e :data :type)))
    (is (re-find #"SHA256:" (:message e)))
    (is (re-find #"\[127.0.0.1\]:\d+" (:message e)))))

(deftest bad-calls-are-errors-and-the-pod-keeps-serving
  (is (= :bbssh/bad-option (-> (ex #(bbssh/ssh c/host (c/opts {:port "22"}))) :data :type)))
  (is (= :bbssh/bad-option (-> (ex #(bbssh/ssh c/host (c/opts {:port 70000}))) :data :type)))
  (is (= :bbssh/bad-option (-> (ex #(bbssh/ssh c/host (c/opts {:identity "/no/such/key"}))) :data :type)))
  (is (= :bbssh/bad-option (-> (ex #(bbssh/ssh c/host (c/opts {:usernme "typo"}))) :data :type)))
  (is (= :bbssh/unknown-handle (-> (ex #(bbssh/exec :bbssh/session-999 "true")) :data :type)))
  (is (= :bbssh/unknown-var (-> (ex #(babashka.pods/invoke "pod.epiccastle.bbssh" 'pod.epiccastle.bbssh.pod.session/nope [])) :data :type)))
  (is (= :bbssh/arity (-> (ex #(babashka.pods/invoke "pod.epiccastle.bbssh" 'pod.epiccastle.bbssh.pod.session/connected? [])) :data :type)))
  (is (= "still here\n" (-> (bbssh/exec s "echo still here" {:out :string}) deref :out))))

(deftest disconnect-and-reconnect
  (let [s2 (bbssh/ssh c/host (c/opts {:no-connect true}))]
    (is (false? (session/connected? s2)))
    (session/connect s2 10000)
    (is (true? (session/connected? s2)))
    (session/disconnect s2)
    (is (false? (session/connected? s2)))
    (is (= :bbssh/not-connected (-> (ex #(bbssh/exec s2 "true")) :data :type)))))

(deftest async-invoke-with-handlers
  ;; The client's own babashka.pods/invoke with :handlers, as the client code
  ;; of streaming calls uses it.
  (let [p (promise)]
    (babashka.pods/invoke "pod.epiccastle.bbssh" 'pod.epiccastle.bbssh.pod.session/connected? [s]
                          {:handlers {:success #(deliver p [:ok %]) :error #(deliver p [:error %])}})
    (is (= [:ok true] (deref p 10000 :timeout)))))

(c/run-tests-and-exit 'e2e.exec-test)
