;; Local and remote port forwarding through the real sshd: every example of
;; the forwarding guide with loopback addresses, bytes verified by sha256
;; (64 MiB each way), 200 connections at once, unix sockets, spec strings,
;; IPv6, changes while traffic flows, errors, and forwards that die with
;; their session.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.forward-test
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.java.io :as io]
            [e2e.common :as c]
            [e2e.netutil :as n :refer [ex]]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session])

(def s (bbssh/ssh c/host (c/opts)))
(def echo (n/echo-server))
(def echo-port (.getLocalPort echo))
(def dir (n/temp-dir))
(def unix-echo-path (str dir "/echo.sock"))
(def unix-echo (n/unix-echo-server unix-echo-path))
(def big (* 64 1024 1024))

(deftest local-forward-as-in-the-guide
  (let [port (n/free-port)]
    (is (= port (session/set-port-forwarding-local s {:bind-address "127.0.0.1" :local-port port
                                                      :remote-host "127.0.0.1" :remote-port echo-port
                                                      :connect-timeout 30000})))
    (is (n/round-trip "127.0.0.1" port big 1) "64 MiB each way, sha256 equal")
    (is (= [{:bind-address "127.0.0.1" :local-port port :remote-host "127.0.0.1" :remote-port echo-port}]
           (session/get-port-forwarding-local s)))
    (let [stats (meta (first (session/get-port-forwarding-local s)))]
      (is (= {:state :open :total-connections 1 :bytes-out big :bytes-in big}
             (select-keys stats [:state :total-connections :bytes-out :bytes-in]))))
    (session/delete-port-forwarding-local s {:bind-address "127.0.0.1" :local-port port})
    (is (= [] (session/get-port-forwarding-local s)))
    (is (thrown? java.net.ConnectException (java.net.Socket. "127.0.0.1" (int port))))))

(deftest local-port-zero-and-seed-shape
  (let [port (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})]
    (is (pos? port))
    (is (= [{:local-port port :remote-host "127.0.0.1" :remote-port echo-port}]
           (session/get-port-forwarding-local s)) "bbssh's exact shape")
    (session/delete-port-forwarding-local s {:local-port port})))

(deftest local-forward-to-a-remote-unix-socket
  (let [port (session/set-port-forwarding-local s {:local-port 0 :remote-unix-socket unix-echo-path})]
    (is (n/round-trip "127.0.0.1" port (* 8 1024 1024) 2))
    (is (= [{:local-port port :remote-unix-socket unix-echo-path}] (session/get-port-forwarding-local s)))
    (session/delete-port-forwarding-local s {:local-port port})))

(deftest local-unix-socket-listener
  (let [sock (str dir "/local.sock")]
    (is (= 0 (session/set-port-forwarding-local s {:local-unix-socket sock :remote-host "127.0.0.1" :remote-port echo-port})))
    (is (= "rw-------" (str (java.nio.file.attribute.PosixFilePermissions/toString
                               (java.nio.file.Files/getPosixFilePermissions
                                (.toPath (io/file sock)) (make-array java.nio.file.LinkOption 0))))))
    (is (n/unix-round-trip sock (* 4 1024 1024) 3))
    (is (= [{:local-unix-socket sock :remote-host "127.0.0.1" :remote-port echo-port}]
           (session/get-port-forwarding-local s)))
    (session/delete-port-forwarding-local s {:local-unix-socket sock})
    (is (not (.exists (io/file sock))) "the socket file is removed")))

(deftest remote-forward-as-in-the-guide
  (let [rport (n/free-port)]
    (is (= rport (session/set-port-forwarding-remote s {:bind-address "127.0.0.1" :remote-port rport
                                                        :local-host "127.0.0.1" :local-port echo-port})))
    ;; sshd listens on this machine, so the test reaches it directly
    (is (n/round-trip "127.0.0.1" rport big 4) "64 MiB each way, sha256 equal")
    (is (= [{:bind-address "127.0.0.1" :remote-port rport :local-host "127.0.0.1" :local-port echo-port}]
           (session/get-port-forwarding-remote s)))
    (session/delete-port-forwarding-remote s {:remote-port rport})
    (is (= [] (session/get-port-forwarding-remote s)))
    (is (n/wait-until 5000 #(try (java.net.Socket. "127.0.0.1" (int rport)) false
                                 (catch java.net.ConnectException _ true)))
        "the server stopped listening")))

(deftest remote-port-zero-and-defaults
  (let [rport (session/set-port-forwarding-remote s {:remote-port 0 :local-port echo-port})]
    (is (pos? rport))
    (is (= [{:remote-port rport :local-host "127.0.0.1" :local-port echo-port}]
           (session/get-port-forwarding-remote s)))
    (is (n/round-trip "127.0.0.1" rport 100000 5))
    (session/delete-port-forwarding-remote s {:remote-port rport})))

(deftest remote-unix-sockets-both-ways
  (let [remote-sock (str dir "/remote-" (System/nanoTime) ".sock")]
    ;; the server listens on a unix socket (streamlocal-forward) and
    ;; connections go to a local unix socket
    (java.nio.file.Files/setPosixFilePermissions (.toPath (io/file dir))
                                                 (java.nio.file.attribute.PosixFilePermissions/fromString "rwxrwxrwx"))
    (is (= 0 (session/set-port-forwarding-remote s {:remote-unix-socket remote-sock :local-unix-socket unix-echo-path})))
    (is (n/wait-until 5000 #(.exists (io/file remote-sock))))
    (is (n/unix-round-trip remote-sock (* 8 1024 1024) 6))
    (is (= [{:remote-unix-socket remote-sock :local-unix-socket unix-echo-path}]
           (session/get-port-forwarding-remote s)))
    (session/delete-port-forwarding-remote s {:remote-unix-socket remote-sock})
    ;; a TCP listener on the server whose target is a local unix socket
    (let [rport (session/set-port-forwarding-remote s {:remote-port 0 :local-unix-socket unix-echo-path})]
      (is (n/round-trip "127.0.0.1" rport 1000000 7))
      (session/delete-port-forwarding-remote s {:remote-port rport}))))

(deftest spec-strings
  (let [port (session/set-port-forwarding-local s (str "127.0.0.1:0:127.0.0.1:" echo-port))]
    (is (= [{:bind-address "127.0.0.1" :local-port port :remote-host "127.0.0.1" :remote-port echo-port}]
           (session/get-port-forwarding-local s)))
    (is (n/round-trip "127.0.0.1" port 100000 8))
    (session/delete-port-forwarding-local s (str "127.0.0.1:" port ":127.0.0.1:" echo-port))
    (is (= [] (session/get-port-forwarding-local s))))
  (let [free (n/free-port)
        port (session/set-port-forwarding-local s (str free ":" unix-echo-path))]
    (is (= free port))
    (is (n/round-trip "127.0.0.1" port 100000 9))
    (session/delete-port-forwarding-local s {:local-port port}))
  (let [free (n/free-port)
        port (session/set-port-forwarding-local s (str "127.0.0.1:" free ":" unix-echo-path))]
    (is (= [{:bind-address "127.0.0.1" :local-port free :remote-unix-socket unix-echo-path}]
           (session/get-port-forwarding-local s)))
    (is (n/round-trip "127.0.0.1" port 100000 15))
    (session/delete-port-forwarding-local s (str "127.0.0.1:" free ":" unix-echo-path)))
  (let [sock (str dir "/spec.sock")]
    (session/set-port-forwarding-local s (str sock ":" unix-echo-path))
    (is (n/unix-round-trip sock 100000 10))
    (session/delete-port-forwarding-local s (str sock ":" unix-echo-path)))
  (let [rport (session/set-port-forwarding-remote s (str "127.0.0.1:0:127.0.0.1:" echo-port))]
    (is (n/round-trip "127.0.0.1" rport 100000 11))
    (session/delete-port-forwarding-remote s {:remote-port rport}))
  (testing "bad specs"
    (doseq [bad ["8080:db" "x:db:5432" "8080:db:0" "1:2:3:4:5" "" "[::1:80:h:1"]]
      (let [e (ex #(session/set-port-forwarding-local s bad))]
        (is (= :bbssh/bad-option (-> e :data :type)) bad)
        (is (re-find #"bad local forward spec" (str (:message e))) bad)))))

(deftest ipv6
  (let [echo6 (n/echo-server "::1")
        port (session/set-port-forwarding-local s (str "[::1]:0:[::1]:" (.getLocalPort echo6)))]
    (is (n/round-trip "::1" port 1000000 12))
    (is (= [{:bind-address "::1" :local-port port :remote-host "::1" :remote-port (.getLocalPort echo6)}]
           (session/get-port-forwarding-local s)))
    (session/delete-port-forwarding-local s {:bind-address "::1" :local-port port})
    (let [rport (session/set-port-forwarding-remote s {:bind-address "::1" :remote-port 0
                                                       :local-host "::1" :local-port (.getLocalPort echo6)})]
      (is (n/round-trip "::1" rport 1000000 13))
      (session/delete-port-forwarding-remote s {:remote-port rport}))
    (.close echo6)))

(defn many-at-once
  "Runs k round trips of different sizes through port at once; true when
  all came back intact."
  [port k]
  (let [jobs (doall (for [i (range k)]
                      (future (n/round-trip "127.0.0.1" port (+ 1000 (* i 4999)) (+ 100 i)))))]
    (every? true? (map deref jobs))))

(deftest two-hundred-simultaneous-connections
  (let [port (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})]
    (is (many-at-once port 200) "through one local forward")
    (is (= 200 (:total-connections (meta (first (session/get-port-forwarding-local s))))))
    (session/delete-port-forwarding-local s {:local-port port}))
  (let [rport (session/set-port-forwarding-remote s {:remote-port 0 :local-port echo-port})]
    (is (many-at-once rport 200) "through one remote forward")
    (is (= 200 (:total-connections (meta (first (session/get-port-forwarding-remote s))))))
    (session/delete-port-forwarding-remote s {:remote-port rport})))

(deftest changes-while-traffic-flows
  (let [port (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})
        halfway (promise)
        go-on (promise)
        ;; the transfer stops halfway until the changes are done, so it is
        ;; surely in flight while they happen
        busy (future (n/round-trip "127.0.0.1" port big 14 #(do (deliver halfway true) @go-on)))]
    (is (deref halfway 30000 false))
    (dotimes [i 5]
      (let [p2 (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})
            r2 (session/set-port-forwarding-remote s {:remote-port 0 :local-port echo-port})]
        (is (= #{port p2} (set (map :local-port (session/get-port-forwarding-local s)))))
        (is (n/round-trip "127.0.0.1" p2 50000 (+ 20 i)))
        (is (n/round-trip "127.0.0.1" r2 50000 (+ 30 i)))
        (session/delete-port-forwarding-local s {:local-port p2 :close-active true})
        (session/delete-port-forwarding-remote s {:remote-port r2})))
    (is (= 1 (:active-connections (meta (first (session/get-port-forwarding-local s))))) "the big transfer is still running")
    (deliver go-on true)
    (is (true? @busy) "64 MiB intact while forwards came and went")
    (session/delete-port-forwarding-local s {:local-port port})))

(deftest delete-lets-open-connections-finish-unless-close-active
  (let [port (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})
        sock (java.net.Socket. "127.0.0.1" (int port))]
    (n/wait-until 5000 #(= 1 (:active-connections (meta (first (session/get-port-forwarding-local s))))))
    (session/delete-port-forwarding-local s {:local-port port})
    (is (n/socket-round-trip sock 100000 40) "an open connection finishes after delete")
    (let [port (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})
          sock (java.net.Socket. "127.0.0.1" (int port))]
      (n/wait-until 5000 #(= 1 (:active-connections (meta (first (session/get-port-forwarding-local s))))))
      (session/delete-port-forwarding-local s {:local-port port :close-active true})
      (.setSoTimeout sock 10000)
      (is (contains? #{-1 :reset} (try (.read (.getInputStream sock)) (catch java.net.SocketException _ :reset)))
          "close-active ends open connections")
      (.close sock))))

(deftest forward-errors
  (let [keeper (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})]
    (testing "port in use"
      (with-open [busy (java.net.ServerSocket. 0 1 (java.net.InetAddress/getByName "127.0.0.1"))]
        (let [e (ex #(session/set-port-forwarding-local s {:local-port (.getLocalPort busy) :remote-host "x" :remote-port 1}))]
          (is (= :bbssh/forward-failed (-> e :data :type)))
          (is (re-find #"address already in use" (:message e))))))
    (testing "the server refuses the remote listen (privileged port, non-root user)"
      (let [e (ex #(session/set-port-forwarding-remote s {:remote-port 80 :local-port echo-port}))]
        (is (= :bbssh/forward-failed (-> e :data :type)))
        (is (re-find #"server refused to listen on 127.0.0.1:80.*port 80 is privileged" (:message e)))))
    (testing "bad options"
      (is (= :bbssh/bad-option (-> (ex #(session/set-port-forwarding-local s {:local-port 0 :remote-port 80})) :data :type)))
      (is (= :bbssh/bad-option (-> (ex #(session/set-port-forwarding-local s {:local-port 70000 :remote-host "h" :remote-port 80})) :data :type)))
      (is (re-find #"unknown local forward option :colour"
                   (:message (ex #(session/set-port-forwarding-local s {:local-port 0 :remote-host "h" :remote-port 80 :colour 1})))))
      (is (= :bbssh/bad-option (-> (ex #(session/set-port-forwarding-local s 42)) :data :type))))
    (testing "unknown forward and session"
      (is (= :bbssh/no-such-forward (-> (ex #(session/delete-port-forwarding-local s {:local-port 1})) :data :type)))
      (is (= :bbssh/unknown-handle (-> (ex #(session/get-port-forwarding-local :bbssh/session-999)) :data :type)))
      (is (= :bbssh/unknown-handle (-> (ex #(session/set-port-forwarding-local :bbssh/session-999 "0:h:1")) :data :type))))
    (testing "a refused target closes the forwarded connection; the forward keeps serving"
      (let [dead-port (n/free-port)
            port (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port dead-port})
            rport (session/set-port-forwarding-remote s {:remote-port 0 :local-port dead-port})]
        (doseq [p [port rport]]
          (with-open [sock (java.net.Socket. "127.0.0.1" (int p))]
            (.setSoTimeout sock 10000)
            (is (contains? #{-1 :reset} (try (.read (.getInputStream sock)) (catch java.net.SocketException _ :reset))))))
        (is (re-find #"connecting to" (str (:last-error (meta (first (filter #(= port (:local-port %)) (session/get-port-forwarding-local s))))))))
        (is (n/wait-until 5000 #(re-find #"connection refused" (str (:last-error (meta (first (session/get-port-forwarding-remote s))))))))
        (session/delete-port-forwarding-local s {:local-port port})
        (session/delete-port-forwarding-remote s {:remote-port rport})))
    (is (n/round-trip "127.0.0.1" keeper 1000000 50) "the other forward still works")
    (is (= "ok\n" (-> (bbssh/exec s "echo ok" {:out :string}) deref :out)) "the session still works")
    (session/delete-port-forwarding-local s {:local-port keeper})))

(deftest forwards-at-connect-are-all-or-nothing
  (let [s2 (bbssh/ssh c/host (c/opts {:port-forward-local [{:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port}
                                                           (str "0:127.0.0.1:" echo-port)]
                                      :port-forward-remote [{:remote-port 0 :local-port echo-port}]
                                      :port-forward-dynamic ["127.0.0.1:0"]}))]
    (is (= 2 (count (session/get-port-forwarding-local s2))))
    (is (= 1 (count (session/get-port-forwarding-remote s2))))
    (is (= 1 (count (session/get-port-forwarding-dynamic s2))))
    (is (every? #(n/round-trip "127.0.0.1" (:local-port %) 10000 60) (session/get-port-forwarding-local s2)))
    (session/disconnect s2)
    (is (= [] (session/get-port-forwarding-local s2)) "forwards end with an explicit disconnect"))
  (let [taken (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})
        ok-port (n/free-port)
        e (ex #(bbssh/ssh c/host (c/opts {:port-forward-local [{:local-port ok-port :remote-host "127.0.0.1" :remote-port echo-port}
                                                               {:local-port taken :remote-host "127.0.0.1" :remote-port echo-port}]})))]
    (is (= :bbssh/forward-failed (-> e :data :type)))
    (is (re-find #"forward .* failed" (:message e)))
    (is (= {:local-port taken :remote-host "127.0.0.1" :remote-port echo-port} (-> e :data :spec)))
    (is (n/wait-until 5000 #(try (java.net.Socket. "127.0.0.1" (int ok-port)) false
                                 (catch java.net.ConnectException _ true)))
        "the forward that did start was torn down")
    (session/delete-port-forwarding-local s {:local-port taken})))

(deftest forwards-that-die-with-the-connection-say-so
  (let [s3 (bbssh/ssh c/host (c/opts))
        port (session/set-port-forwarding-local s3 {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})
        rport (session/set-port-forwarding-remote s3 {:remote-port 0 :local-port echo-port})]
    ;; kill the server side of this connection: the shell's parent is the
    ;; session's sshd process. It answers the exec request just after
    ;; starting the shell; the pause lets that answer out first, or the
    ;; exec itself may fail with the connection.
    (bbssh/exec s3 "sleep 0.5; kill -9 $PPID" {:out :discard :err :discard})
    (is (n/wait-until 10000 #(not (session/connected? s3))))
    (is (n/wait-until 5000 #(:closed (first (session/get-port-forwarding-local s3)))))
    (let [[local] (session/get-port-forwarding-local s3)
          [remote] (session/get-port-forwarding-remote s3)]
      (is (= port (:local-port local)))
      (is (re-find #"connection to .* was lost" (:closed local)))
      (is (= :closed (:state (meta local))))
      (is (= rport (:remote-port remote)))
      (is (string? (:closed remote))))
    (is (thrown? java.net.ConnectException (java.net.Socket. "127.0.0.1" (int port))) "the listener is closed")
    (session/delete-port-forwarding-local s3 {:local-port port})
    (is (= [] (session/get-port-forwarding-local s3)))
    (session/connect s3)
    (is (= [] (session/get-port-forwarding-remote s3)) "a new connection starts with no forwards")
    (session/disconnect s3)))

(c/run-tests-and-exit 'e2e.forward-test)
