;; The server goes away in the middle of everything: run by
;; TestSshdCut (faults_test.go) against an sshd of its own, which it kills
;; (BBSSH_FAULT_MODE=kill: the kernel closes the connection) or freezes
;; (=freeze: the connection stays open and only keepalives can tell) once
;; this script says that a -L transfer, a -R transfer, a streaming command,
;; an scp upload, an scp download and an sftp download are all moving
;; bytes.
;;
;; Every pending operation must end with an error (or, for a byte stream,
;; end of file) within a few seconds, the forwarded sockets must be closed,
;; the session must say it is disconnected, the local listener port must be
;; free again, and once the test has restarted sshd a new session, and the
;; old one reconnected, must work.
;;
;; The test and the script meet through files in BBSSH_FAULT_DIR: the
;; script writes "ready", the test writes "cut" (the epoch ms of the cut),
;; the script writes "checked", the test writes "restarted".
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.faults.sshd-cut
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.java.io :as io]
            [clojure.string :as str]
            [e2e.common :as c]
            [e2e.netutil :as n]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.scp :as scp]
         '[pod.epiccastle.bbssh.sftp :as sftp]
         '[pod.epiccastle.bbssh.session :as session])

(def mode (c/env "BBSSH_FAULT_MODE"))
(def fault-dir (c/env "BBSSH_FAULT_DIR"))

;; keepalives every 500 ms, dead after 3 unanswered: about 2 s
(def keepalive {:keepalive-interval 500 :keepalive-count-max 3})

;; the bound on "a few seconds" after the cut
(def bound-ms 6000)

(defn now [] (System/currentTimeMillis))

(defn signal! [name & [content]]
  (spit (io/file fault-dir (str name ".tmp")) (or content ""))
  (.renameTo (io/file fault-dir (str name ".tmp")) (io/file fault-dir name)))

(defn await-file
  "Waits up to ms for the test to write file name; returns its content."
  [name ms]
  (let [f (io/file fault-dir name)]
    (when (n/wait-until ms #(.exists f))
      (str/trim (slurp f)))))

(defn outcome
  "Runs f on a thread of its own; the future gives {:how :at :what}: how
  it ended (:error, :eof or :returned), when (epoch ms) and with what."
  [f]
  (future
    (try
      (let [v (f)]
        {:how (if (= v :eof) :eof :returned) :at (now) :what v})
      (catch Throwable e
        {:how :error :at (now) :what (str (.getSimpleName (class e)) ": " (ex-message e))
         :type (:type (ex-data e))}))))

(defn drain
  "Reads in until end of file, counting bytes into counter; :eof at the end."
  [^java.io.InputStream in counter]
  (let [buf (byte-array 65536)]
    (loop []
      (let [k (.read in buf)]
        (if (neg? k)
          :eof
          (do (swap! counter + k) (recur)))))))

(defn endless-input
  "An InputStream of n zero bytes, n far more than the test moves."
  ^java.io.InputStream [n]
  (let [left (atom n)]
    (proxy [java.io.InputStream] []
      (read
        ([] (if (pos? @left) (do (swap! left dec) 0) -1))
        ([bs] (.read this bs 0 (alength ^bytes bs)))
        ([bs off len]
         (if (pos? @left)
           (let [k (int (min len @left))]
             (java.util.Arrays/fill ^bytes bs (int off) (int (+ off k)) (byte 0))
             (swap! left - k)
             k)
           -1))))))

(def sink-accepted (promise))

(defn sink-server
  "A local TCP server that reads (and counts) whatever its first client
  sends: the target of the -R forward."
  [counter]
  (let [server (java.net.ServerSocket. 0 10 (java.net.InetAddress/getByName "127.0.0.1"))]
    (future
      (try
        (let [conn (.accept server)]
          (deliver sink-accepted conn)
          (drain (.getInputStream conn) counter))
        (catch Exception _ nil)))
    server))

(defn source-server
  "A local TCP server that sends zeros to each client until it fails: the
  target of a -L forward whose client only reads, so that the client's
  reads alone show how its stream ended."
  []
  (let [server (java.net.ServerSocket. 0 10 (java.net.InetAddress/getByName "127.0.0.1"))]
    (future
      (try
        (while true
          (let [conn (.accept server)]
            (future
              (try
                (let [out (.getOutputStream conn) buf (byte-array 65536)]
                  (while true (.write out buf)))
                (catch Exception _ nil)))))
        (catch Exception _ nil)))
    server))

(defn port-free?
  "True when a listener can bind 127.0.0.1:port."
  [port]
  (try (with-open [_ (java.net.ServerSocket. (int port) 1 (java.net.InetAddress/getByName "127.0.0.1"))] true)
       (catch java.io.IOException _ false)))

(def big (* 64 1024 1024 1024)) ; never reached

(deftest the-server-goes-away
  (let [s (bbssh/ssh c/host (c/opts keepalive))
        tmp (str/trim (:out @(bbssh/exec s "mktemp -d" {:out :string})))
        _ @(bbssh/exec s (str "truncate -s 8G " tmp "/big") {:out :discard})
        echo (n/echo-server)
        lport (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1"
                                                    :remote-port (.getLocalPort echo)})
        sunk (atom 0)
        sink (sink-server sunk)
        rport (session/set-port-forwarding-remote s {:remote-port 0 :local-port (.getLocalPort sink)})
        ;; -L: a client sends zeros and drains the echo
        lsock (java.net.Socket. "127.0.0.1" (int lport))
        lread (atom 0)
        l-writer (outcome #(let [out (.getOutputStream lsock) buf (byte-array 65536)]
                             (while true (.write out buf))))
        l-reader (outcome #(drain (.getInputStream lsock) lread))
        ;; -L: a client that only reads what the target sends
        source (source-server)
        dport (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1"
                                                    :remote-port (.getLocalPort source)})
        dsock (java.net.Socket. "127.0.0.1" (int dport))
        dread (atom 0)
        d-reader (outcome #(drain (.getInputStream dsock) dread))
        ;; -R: a client of sshd's listener sends zeros to the sink
        rsock (java.net.Socket. "127.0.0.1" (int rport))
        r-writer (outcome #(let [out (.getOutputStream rsock) buf (byte-array 65536)]
                             (while true (.write out buf))))
        r-sink (outcome #(let [conn @sink-accepted] (drain (.getInputStream ^java.net.Socket conn) (atom 0))))
        ;; a command streaming its output
        proc (bbssh/exec s "cat /dev/zero" {:err :discard})
        streamed (atom 0)
        ex-stream (outcome #(drain (:out proc) streamed))
        ex-wait (outcome #(deref proc))
        ;; scp both ways
        up (atom 0)
        down (atom 0)
        sftp-down (atom 0)
        dest (io/file (n/temp-dir) "big")
        sftp-dest (io/file (n/temp-dir) "big")
        scp-up (outcome #(scp/scp-to [[(endless-input big) {:filename "up" :size big}]] tmp
                                     {:session s :progress-fn (fn [_ {:keys [offset]}] (reset! up offset))}))
        scp-down (outcome #(scp/scp-from (str tmp "/big") (str dest)
                                         {:session s :progress-fn (fn [_ {:keys [offset]}] (reset! down offset))}))
        sftp-get (outcome #(sftp/get s (str tmp "/big") (str sftp-dest)
                                     {:progress-fn (fn [_ {:keys [offset]}] (reset! sftp-down offset))}))
        ;; (the -R client's peer is sshd itself: what happens to it is
        ;; not the pod's doing, so only its target side is checked)
        pending {"-L client write" l-writer "-L client read" l-reader "-L download read" d-reader
                 "-R target read" r-sink
                 "exec stream" ex-stream "exec deref" ex-wait
                 "scp-to" scp-up "scp-from" scp-down "sftp get" sftp-get}
        moving? (fn [] (every? #(> @% (* 4 1024 1024)) [lread dread sunk streamed up down sftp-down]))]
    (is (n/wait-until 30000 moving?) "every transfer moves bytes before the cut")
    (println "before the cut:" {:-L @lread :-R @sunk :exec @streamed :scp-to @up :scp-from @down :sftp @sftp-down})
    (is (every? #(not (realized? %)) (vals pending)) "nothing has ended before the cut")
    (signal! "ready")
    (let [cut (Long/parseLong (await-file "cut" 60000))
          ;; watched from the cut on, so that their times are exact
          disconnected (outcome #(when (n/wait-until 30000 (fn [] (not (session/connected? s)))) :eof))
          released (outcome #(when (n/wait-until 30000 (fn [] (port-free? lport))) :eof))]
      (testing (str "after the server was cut (" mode ")")
        (doseq [[what f] (sort-by key (assoc pending "session disconnected" disconnected
                                             "-L listener released" released))]
          (let [{:keys [how at] :as r} (deref f (+ bound-ms 5000) nil)]
            (is (some? r) (str what " ended"))
            (when r
              (println (format "FIGURE %s %s: %s after %.2f s (%s %s)" mode what (name how)
                               (/ (- at cut) 1000.0) (or (:type r) "") (:what r)))
              (is (<= (- at cut) bound-ms) (str what " ended within " bound-ms " ms"))
              (is (not= :returned how) (str what " ended with an error or end of file, not a result")))))
        ;; x/crypto/ssh ends a channel cut by a lost connection like a
        ;; finished one; the pod must not pass that on as a clean end of
        ;; stream: the reader of a forwarded or streamed output gets an
        ;; error (a reset), never a truncated stream that looks whole.
        ;; (a client that also writes may see the reset on its write and
        ;; then an end of file on its read, so the -L check uses a client
        ;; that only reads)
        (doseq [what ["-L download read" "-R target read" "exec stream"]]
          (let [r (deref (pending what) 0 nil)]
            (is (= :error (:how r)) (str what " ends with an error, not an end of file: " r))))
        (doseq [[what f types] [["exec deref" ex-wait #{:bbssh/closed}]
                                ["scp-to" scp-up #{:bbssh/closed}]
                                ;; bbssh 0.6's type for an scp stream that ended
                                ["scp-from" scp-down #{:pod.epiccastle.bbssh.scp/scp-disconnect :bbssh/closed}]
                                ["sftp get" sftp-get #{:bbssh/closed}]]]
          (let [r (deref f 0 nil)]
            (is (= :error (:how r)) (str what " throws"))
            (is (contains? types (:type r)) (str what " throws with :type " types ", got " (:type r)))
            (is (re-find #"connection .*(was lost|ended)" (str (:what r))) (str what " says the connection was lost: " (:what r)))))
        (let [[local] (session/get-port-forwarding-local s)]
          (is (= lport (:local-port local)))
          (is (re-find #"connection to .* was lost" (str (:closed local))) (str "the -L forward says why: " (:closed local)))))
      (signal! "checked")
      (is (await-file "restarted" 60000) "the test restarted sshd")
      (testing "a new session to the restarted sshd works"
        (let [s2 (bbssh/ssh c/host (c/opts keepalive))]
          (is (= "ok\n" (:out @(bbssh/exec s2 "echo ok" {:out :string}))))
          (session/disconnect s2)))
      (testing "the old session connects again"
        (session/connect s)
        (is (session/connected? s))
        (is (= "again\n" (:out @(bbssh/exec s "echo again" {:out :string}))))
        (let [p (session/set-port-forwarding-local s {:local-port lport :remote-host "127.0.0.1"
                                                      :remote-port (.getLocalPort echo)})]
          (is (= lport p) "the same local port can be forwarded again")
          (is (n/round-trip "127.0.0.1" p 1000000 3)))
        @(bbssh/exec s (str "rm -rf " tmp) {:out :discard})
        (session/disconnect s)))
    (doseq [x [lsock rsock echo sink]] (.close ^java.io.Closeable x))))

(c/run-tests-and-exit 'e2e.faults.sshd-cut)
