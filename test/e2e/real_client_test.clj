;; What differs between babashka's own pod client (babashka/pods) and a
;; naive one, pinned down through real babashka:
;; - a call with no arguments arrives as the EDN `nil`, not `()`: every
;;   var with a zero-argument arity is called here with none, checked by
;;   the type of its result, and the list of them is complete;
;; - a `false` reply to a synchronous call is delivered as nil: every
;;   public function whose contract is a boolean is checked with true? or
;;   false? in both states, and the list of them is complete.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(ns e2e.real-client-test
  (:require [babashka.pods :as pods]
            [clojure.java.io :as io]
            [clojure.string :as str]
            [clojure.test :refer [deftest is testing]]
            [e2e.common :as c]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session]
         '[pod.epiccastle.bbssh.agent :as agent]
         '[pod.epiccastle.bbssh.channel-exec :as ch]
         '[pod.epiccastle.bbssh.input-stream :as is]
         '[pod.epiccastle.bbssh.output-stream :as os]
         '[pod.epiccastle.bbssh.byte-array-input-stream :as bais]
         '[pod.epiccastle.bbssh.byte-array-output-stream :as baos]
         '[pod.epiccastle.bbssh.key-pair :as key-pair]
         '[pod.epiccastle.bbssh.identity :as identity]
         '[pod.epiccastle.bbssh.identity-repository :as idr]
         '[pod.epiccastle.bbssh.known-hosts :as known-hosts]
         '[pod.epiccastle.bbssh.ssh-agent :as ssh-agent]
         '[pod.epiccastle.bbssh.sftp :as sftp]
         '[pod.epiccastle.bbssh.terminal :as terminal]
         '[pod.epiccastle.bbssh.impl.utils :as utils]
         '[pod.epiccastle.bbssh.pod.registry :as registry])

(defn- handle? [x] (and (keyword? x) (= "bbssh" (namespace x))))

(defn- vars-of
  "[symbol var] of every var of the bbssh namespaces."
  []
  (for [ns (all-ns)
        :let [n (str (ns-name ns))]
        :when (str/starts-with? n "pod.epiccastle.bbssh")
        [sym v] (ns-publics ns)]
    [(symbol n (str sym)) v]))

(defn- zero-arity? [v]
  (some #(or (= [] %) (= '& (first %))) (:arglists (meta v))))

(def ^:private no-terminal
  "What a terminal call without a terminal throws."
  #(= :bbssh/no-terminal (:type (ex-data %))))

(defn- thrown [f]
  (try (f) nil (catch clojure.lang.ExceptionInfo e e)))

(def zero-argument-calls
  "Every var with a zero-argument arity: how to call it with none, and
  what its result must be. Handles made here are released at once."
  {'pod.epiccastle.bbssh.agent/new [#(agent/new) handle?]
   'pod.epiccastle.bbssh.pod.agent/new [#(pod.epiccastle.bbssh.pod.agent/new) handle?]
   'pod.epiccastle.bbssh.byte-array-output-stream/new [#(baos/new) handle?]
   'pod.epiccastle.bbssh.pod.byte-array-output-stream/new [#(pod.epiccastle.bbssh.pod.byte-array-output-stream/new) handle?]
   'pod.epiccastle.bbssh.input-stream/new [#(is/new) handle?]
   'pod.epiccastle.bbssh.pod.input-stream/new [#(pod.epiccastle.bbssh.pod.input-stream/new) handle?]
   'pod.epiccastle.bbssh.output-stream/new [#(os/new) handle?]
   'pod.epiccastle.bbssh.pod.output-stream/new [#(pod.epiccastle.bbssh.pod.output-stream/new) handle?]
   'pod.epiccastle.bbssh.known-hosts/new [#(known-hosts/new) handle?]
   'pod.epiccastle.bbssh.ssh-agent/new-identity-repository [#(ssh-agent/new-identity-repository) handle?]
   'pod.epiccastle.bbssh.pod.ssh-agent/new-identity-repository [#(pod.epiccastle.bbssh.pod.ssh-agent/new-identity-repository) handle?]
   'pod.epiccastle.bbssh.pod.scp/new-input [#(pod.epiccastle.bbssh.pod.scp/new-input) handle?]
   'pod.epiccastle.bbssh.pod.log/new
   [#(let [p (promise)]
       ;; a streaming var: its first value carries the handle
       (pods/invoke "pod.epiccastle.bbssh" 'pod.epiccastle.bbssh.pod.log/new []
                    {:handlers {:success (fn [m] (deliver p (:result m)))
                                :error (fn [e] (deliver p e))}})
       (deref p 10000 :timeout))
    handle?]
   'pod.epiccastle.bbssh.pod.cleaner/get-references [#(pod.epiccastle.bbssh.pod.cleaner/get-references)
                                                      #(and (seq %) (every? handle? %))]
   'pod.epiccastle.bbssh.pod.registry/count [#(registry/count) #(and (int? %) (pos? %))]
   'pod.epiccastle.bbssh.pod.registry/handles [#(registry/handles) #(and (vector? %) (every? handle? %))]
   'pod.epiccastle.bbssh.pod.debug/stats [#(pod.epiccastle.bbssh.pod.debug/stats) #(and (map? %) (int? (:goroutines %)))]
   'pod.epiccastle.bbssh.pod.debug/goroutines [#(pod.epiccastle.bbssh.pod.debug/goroutines) #(and (string? %) (str/includes? % "goroutine"))]
   'pod.epiccastle.bbssh.pod.debug/fds [#(pod.epiccastle.bbssh.pod.debug/fds) #(and (vector? %) (every? string? %))]
   'pod.epiccastle.bbssh.terminal/is-terminal? [#(terminal/is-terminal?) false?]
   'pod.epiccastle.bbssh.pod.terminal/is-terminal? [#(pod.epiccastle.bbssh.pod.terminal/is-terminal?)
                                                    ;; a pod var's false reaches bb as nil
                                                    nil?]
   'pod.epiccastle.bbssh.terminal/get-width [#(terminal/get-width) #(= 0 %)]
   'pod.epiccastle.bbssh.pod.terminal/get-width [#(pod.epiccastle.bbssh.pod.terminal/get-width) #(= 0 %)]
   'pod.epiccastle.bbssh.terminal/get-height [#(terminal/get-height) #(= 0 %)]
   'pod.epiccastle.bbssh.pod.terminal/get-height [#(pod.epiccastle.bbssh.pod.terminal/get-height) #(= 0 %)]
   'pod.epiccastle.bbssh.terminal/enter-raw-mode [#(thrown terminal/enter-raw-mode) no-terminal]
   'pod.epiccastle.bbssh.pod.terminal/enter-raw-mode [#(thrown pod.epiccastle.bbssh.pod.terminal/enter-raw-mode) no-terminal]
   'pod.epiccastle.bbssh.terminal/leave-raw-mode [#(terminal/leave-raw-mode) nil?]
   'pod.epiccastle.bbssh.pod.terminal/leave-raw-mode [#(pod.epiccastle.bbssh.pod.terminal/leave-raw-mode) nil?]
   'pod.epiccastle.bbssh.terminal/raw-mode-readline [#(binding [*in* (java.io.BufferedReader. (java.io.StringReader. "typed\n"))]
                                                       (terminal/raw-mode-readline))
                                                     #(= "typed" %)]
   'pod.epiccastle.bbssh.impl.utils/bad-option [#(thrown utils/bad-option) #(= :bbssh/bad-option (:type (ex-data %)))]})

(deftest every-zero-argument-var-is-called-with-none
  (testing "the table names every var with a zero-argument arity"
    (is (= (sort (keys zero-argument-calls))
           (sort (for [[sym v] (vars-of) :when (zero-arity? v)] sym)))))
  ;; a handle held throughout, for the registry's vars to list
  (let [held (baos/new)]
    (doseq [[sym [call ok?]] (sort-by key zero-argument-calls)]
      (let [result (try (call) (catch Exception e e))]
        (is (ok? result) (str sym " answered " (pr-str result)))
        (when (handle? result)
          (registry/release result))))
    (registry/release held)))

(defn- exists-file [s]
  (let [f (str "bbssh-real-client-" (System/nanoTime))]
    (sftp/write s f "x")
    f))

(deftest every-boolean-function-answers-true-or-false
  (let [s (bbssh/ssh c/host (c/opts))
        kp (key-pair/generate nil :ed25519)
        enc-file (str (System/getProperty "java.io.tmpdir") "/bbssh-real-client-" (System/nanoTime))
        checked (atom #{})
        check (fn [sym pred v] (swap! checked conj sym) (is (pred v) (str sym " answered " (pr-str v))))]
    (testing "session/connected?"
      (check 'session/connected? true? (session/connected? s)))
    (testing "channel-exec is-connected, is-closed, is-eof before and after"
      (let [c (session/open-channel s "exec")]
        (ch/set-command c "exit 0")
        (check 'ch/is-connected false? (ch/is-connected c))
        (check 'ch/is-closed false? (ch/is-closed c))
        (check 'ch/is-eof false? (ch/is-eof c))
        (ch/connect c)
        (ch/wait c)
        (check 'ch/is-closed true? (ch/is-closed c))
        (check 'ch/is-eof true? (ch/is-eof c))
        (check 'ch/is-connected false? (ch/is-connected c)))
      (let [c (session/open-channel s "exec")]
        (ch/set-command c "sleep 5")
        (ch/connect c)
        (check 'ch/is-connected true? (ch/is-connected c))
        (ch/disconnect c)))
    (testing "sftp/exists?"
      (let [f (exists-file s)]
        (check 'sftp/exists? true? (sftp/exists? s f))
        (sftp/rm s f)
        (check 'sftp/exists? false? (sftp/exists? s f))))
    (testing "key-pair is-encrypted and decrypt"
      (check 'key-pair/is-encrypted false? (key-pair/is-encrypted kp))
      (key-pair/write-private-key kp enc-file "secret")
      (key-pair/write-public-key kp (str enc-file ".pub") "real-client")
      (let [enc (key-pair/load nil enc-file)]
        (check 'key-pair/is-encrypted true? (key-pair/is-encrypted enc))
        (check 'key-pair/decrypt false? (key-pair/decrypt enc "wrong"))
        (check 'key-pair/decrypt true? (key-pair/decrypt enc "secret"))
        (check 'key-pair/is-encrypted false? (key-pair/is-encrypted enc))))
    (testing "identity is-encrypted and set-passphrase, identity-repository add and remove"
      (let [ag (agent/new)]
        (agent/add-identity ag enc-file)
        (let [repo (agent/get-identity-repository ag)
              id (first (idr/get-identities repo))]
          (check 'identity/is-encrypted true? (identity/is-encrypted id))
          (check 'identity/set-passphrase false? (identity/set-passphrase id "wrong"))
          (check 'identity/set-passphrase true? (identity/set-passphrase id "secret"))
          (check 'identity/is-encrypted false? (identity/is-encrypted id))
          (check 'idr/remove true? (idr/remove repo (key-pair/get-public-key-blob kp)))
          (check 'idr/remove false? (idr/remove repo (key-pair/get-public-key-blob kp)))
          (check 'idr/add true? (idr/add repo (slurp (c/env "BBSSH_TEST_IDENTITY"))))
          (let [bb-repo (idr/new {:add (fn [_] false)})]
            (check 'idr/add false? (idr/add bb-repo (slurp (c/env "BBSSH_TEST_IDENTITY"))))))))
    (testing "byte-array-input-stream/mark-supported"
      (check 'bais/mark-supported true? (bais/mark-supported (bais/new "x"))))
    (testing "terminal: is-terminal? and a quiet enter-raw-mode without a terminal"
      (check 'terminal/is-terminal? false? (terminal/is-terminal?))
      (check 'terminal/enter-raw-mode false? (terminal/enter-raw-mode 1)))
    (testing "after disconnect"
      (session/disconnect s)
      (check 'session/connected? false? (session/connected? s)))
    (testing "the list is complete: every public predicate and is- function"
      (let [public (for [[sym _] (vars-of)
                         :let [n (name sym)]
                         :when (and (not (str/includes? (namespace sym) ".pod."))
                                    (not (str/includes? (namespace sym) ".impl."))
                                    (or (str/ends-with? n "?") (str/starts-with? n "is-")
                                        (#{"decrypt" "set-passphrase" "mark-supported"} n)))
                         ;; key-pair/set-passphrase only sets what write-private-key uses
                         :when (not= sym 'pod.epiccastle.bbssh.key-pair/set-passphrase)]
                     sym)
            aliases (into {} (map (fn [[a n]] [a (ns-name n)])) (ns-aliases *ns*))
            checked-full (set (map #(symbol (str (aliases (symbol (namespace %)))) (name %)) @checked))]
        (is (= #{} (set (remove checked-full public))) "public boolean functions not checked")))
    (io/delete-file enc-file true)))

(c/run-tests-and-exit 'e2e.real-client-test)
