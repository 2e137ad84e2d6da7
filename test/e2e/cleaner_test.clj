;; Handles the script drops are freed in the pod once babashka has
;; garbage-collected their keywords (java.lang.ref.Cleaner on the client
;; side), and never while the pod still uses their object: a session with
;; a forward or a running command, a channel writing into a stream.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.cleaner-test
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
         '[pod.epiccastle.bbssh.byte-array-output-stream :as baos]
         '[pod.epiccastle.bbssh.impl.cleaner :as cleaner]
         '[pod.epiccastle.bbssh.pod.registry :as registry]
         '[pod.epiccastle.bbssh.pod.cleaner :as pod-cleaner])

(def s (bbssh/ssh c/host (c/opts)))

(defn handles-of-kind [kind]
  (filter #(str/starts-with? (name %) (str kind "-")) (registry/handles)))

(defn make-garbage!
  "Makes many pod objects and keeps none of them; returns how many."
  []
  (let [n (atom 0)]
    (dotimes [_ 200]
      (baos/write (baos/new) 1)
      (bais/read (bais/new "x"))
      (let [i (is/new) o (os/new i)] (os/write o 1) (is/read i))
      (swap! n + 4))
    (dotimes [_ 10]
      (let [c (session/open-channel s "exec") out (baos/new)]
        (ch/set-command c "echo x")
        (ch/set-output-stream c out)
        (ch/get-input-stream c) ; replaced by nothing: still a handle
        (ch/connect c)
        (ch/wait c))
      (swap! n + 3))
    (dotimes [_ 5]
      (let [s2 (bbssh/ssh c/host (c/opts))]
        @(bbssh/exec s2 "true"))
      (swap! n + 2))
    @n))

(deftest dropped-handles-are-freed
  (let [baseline (registry/count)
        before (set (registry/handles))
        made (make-garbage!)
        peak (registry/count)
        ;; handles, not counts, are compared: an earlier test's dropped
        ;; handle may be freed meanwhile
        left #(remove before (registry/handles))]
    (println "made" made "objects; handles" baseline "->" peak)
    (is (>= peak (+ baseline (* 0.9 made))) "the objects were all alive at first")
    (is (c/settle #(empty? (left)))
        (str "every handle made was freed, left: " (pr-str (take 10 (left)))))
    (is (= (registry/count) (count (remove nil? (pod-cleaner/get-references))))
        "bbssh 0.6's get-references agrees")
    (is (true? (session/connected? s)) "the session the script holds is untouched")))

(deftest held-handles-are-kept
  (let [kept (vec (repeatedly 50 #(baos/new)))]
    (doseq [k kept] (baos/write k 7))
    (make-garbage!)
    (c/settle #(> 60 (count (handles-of-kind "byte-array-output-stream"))))
    (is (= (repeat 50 1) (map baos/size kept)) "every held handle still works")))

(deftest session-with-a-forward-lives-while-it-forwards
  ;; a local forward to the sshd itself; the session's handle is dropped
  ;; at once, the forward keeps working
  (let [port (session/set-port-forwarding-local (bbssh/ssh c/host (c/opts))
                                                {:local-port 0 :remote-host "127.0.0.1" :remote-port c/port})
        banner (fn [] (with-open [sock (java.net.Socket. "127.0.0.1" (int port))]
                        (.readLine (io/reader (.getInputStream sock)))))
        sessions #(set (handles-of-kind "session"))]
    (is (str/starts-with? (banner) "SSH-2.0-"))
    (is (= 2 (count (sessions))) "the dropped session and the held one")
    (c/collect 2000)
    (is (= 2 (count (sessions))) "not freed: it has a forward open")
    (is (str/starts-with? (banner) "SSH-2.0-") "the forward still works")
    (testing "once its forward is gone it is freed"
      (let [orphan (first (disj (sessions) s))]
        (session/delete-port-forwarding-local orphan {:local-port port}))
      (is (c/settle #(= #{s} (sessions))) (pr-str (sessions))))))

(deftest running-command-outlives-its-handles
  (let [marker (str "/tmp/bbssh-cleaner-" (System/nanoTime))]
    (bbssh/exec (bbssh/ssh c/host (c/opts)) (str "sleep 1.5; echo ran > " marker))
    (c/collect 500)
    (is (n/wait-until 10000 #(.exists (io/file marker))) "the command ran to its end")
    (is (c/settle #(= 1 (count (handles-of-kind "session")))) "then its session was freed")
    (io/delete-file marker true)))

(defn- start-dropped-channel!
  "Starts a command writing into out on a channel whose handle is dropped
  on return. (Babashka keeps a let's locals until the enclosing function
  returns, so the channel is made in a function of its own.)"
  [out]
  (let [c (session/open-channel s "exec")]
    (ch/set-command c "sleep 1; echo done")
    (ch/set-output-stream c out)
    (ch/connect c))
  nil)

(deftest channel-keeps-the-stream-it-writes-to
  (let [out (baos/new)]
    ;; the channel's handle is dropped at once; it runs on and fills out
    (start-dropped-channel! out)
    (System/gc)
    (is (n/wait-until 10000 #(= "done\n" (baos/to-string out))))
    (is (c/settle #(empty? (handles-of-kind "channel-exec"))) "freed after its command ended")
    (is (= "done\n" (baos/to-string out)) "the stream the script holds is kept")))

(deftest calls-keep-their-arguments
  ;; a pipe the script drops while a read on it blocks: the read holds it
  (let [o (os/new)
        reader (future (is/read (is/new o)))]
    (c/collect 1500)
    (os/write o 42)
    (is (= 42 (deref reader 5000 :timeout)))))

(deftest cleaner-namespace
  (is (= ["bbssh" "session-1"] (cleaner/split-key :bbssh/session-1)))
  (is (instance? java.lang.ref.Cleaner cleaner/cleaner))
  (is (nil? (cleaner/register nil)))
  (let [h (baos/new)]
    (is (= {:refs 1 :holds 0} (registry/refs h)))
    (is (some #{h} (pod-cleaner/get-references))))
  (is (nil? (pod-cleaner/del-reference :bbssh/nothing-999))))

(c/run-tests-and-exit 'e2e.cleaner-test)
