;; Port forwarding through the real sshd: bytes verified by sha256, many
;; connections at once, set/get/delete while traffic flows, errors.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(ns e2e.forward-test
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.java.io :as io]
            [e2e.common :as c]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session])

(def s (bbssh/ssh c/host (c/opts)))

(defn sha256 [^bytes bs]
  (let [md (java.security.MessageDigest/getInstance "SHA-256")]
    (vec (.digest md bs))))

(defn echo-server
  "A loopback echo server; returns the ServerSocket."
  []
  (let [server (java.net.ServerSocket. 0 1000 (java.net.InetAddress/getByName "127.0.0.1"))]
    (future
      (loop []
        (when-let [conn (try (.accept server) (catch Exception _ nil))]
          (future (with-open [conn conn]
                    (io/copy (.getInputStream conn) (.getOutputStream conn))))
          (recur))))
    server))

(defn round-trip
  "Sends data to 127.0.0.1:port from a writer thread, half-closes, reads all."
  ^bytes [port ^bytes data]
  (with-open [sock (java.net.Socket. "127.0.0.1" (int port))]
    (let [writer (future (let [out (.getOutputStream sock)]
                           (.write out data) (.flush out) (.shutdownOutput sock)))
          out (java.io.ByteArrayOutputStream.)]
      (io/copy (.getInputStream sock) out)
      @writer
      (.toByteArray out))))

(defn random-bytes [n]
  (let [bs (byte-array n)] (.nextBytes (java.util.Random. 42) bs) bs))

(def echo (echo-server))
(def echo-port (.getLocalPort echo))

(deftest local-forward-carries-bytes-intact
  (let [port (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})
        data (random-bytes (* 16 1024 1024))]
    (is (pos? port))
    (is (= (sha256 data) (sha256 (round-trip port data))))
    (is (= [{:local-port port :remote-host "127.0.0.1" :remote-port echo-port}]
           (session/get-port-forwarding-local s)))
    (is (= 1 (:total-connections (meta (first (session/get-port-forwarding-local s))))))
    (session/delete-port-forwarding-local s {:local-port port})
    (is (= [] (session/get-port-forwarding-local s)))
    (is (thrown? java.net.ConnectException (java.net.Socket. "127.0.0.1" (int port))))))

(deftest remote-forward-carries-bytes-intact
  (let [rport (session/set-port-forwarding-remote s {:remote-port 0 :local-port echo-port})
        ;; reach the server-side listener through a local forward
        lport (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port rport})
        data (random-bytes (* 16 1024 1024))]
    (is (= (sha256 data) (sha256 (round-trip lport data))))
    (is (= [{:remote-port rport :local-host "127.0.0.1" :local-port echo-port}]
           (session/get-port-forwarding-remote s)))
    (session/delete-port-forwarding-local s {:local-port lport})
    (session/delete-port-forwarding-remote s {:remote-port rport})
    (is (= [] (session/get-port-forwarding-remote s)))))

(deftest many-simultaneous-connections
  (let [port (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})
        jobs (doall (for [i (range 100)]
                      (future (let [data (random-bytes (+ 1000 (* i 997)))]
                                (= (sha256 data) (sha256 (round-trip port data)))))))]
    (is (every? true? (map deref jobs)))
    (is (= 100 (:total-connections (meta (first (session/get-port-forwarding-local s))))))
    (session/delete-port-forwarding-local s {:local-port port})))

(deftest unix-socket-local-forward
  (let [dir (str (java.nio.file.Files/createTempDirectory "bbssh-fwd" (make-array java.nio.file.attribute.FileAttribute 0)))
        sock (str dir "/fwd.sock")]
    (session/set-port-forwarding-local s {:local-unix-socket sock :remote-host "127.0.0.1" :remote-port echo-port})
    (is (.exists (io/file sock)))
    (is (= [{:local-unix-socket sock :remote-host "127.0.0.1" :remote-port echo-port}]
           (session/get-port-forwarding-local s)))
    (session/delete-port-forwarding-local s {:local-unix-socket sock})
    (is (not (.exists (io/file sock))) "the socket file is removed")))

(defn ex [f]
  (try (f) nil (catch clojure.lang.ExceptionInfo e {:message (ex-message e) :data (ex-data e)})))

(deftest forward-errors
  (let [busy (java.net.ServerSocket. 0 1 (java.net.InetAddress/getByName "127.0.0.1"))]
    (let [e (ex #(session/set-port-forwarding-local s {:local-port (.getLocalPort busy) :remote-host "x" :remote-port 1}))]
      (is (= :bbssh/forward-failed (-> e :data :type)))
      (is (re-find #"address already in use" (:message e))))
    (.close busy))
  (is (= :bbssh/bad-option (-> (ex #(session/set-port-forwarding-local s {:local-port 0 :remote-port 80})) :data :type)))
  (is (= :bbssh/bad-option (-> (ex #(session/set-port-forwarding-local s {:local-port 70000 :remote-host "h" :remote-port 80})) :data :type)))
  (is (= :bbssh/no-such-forward (-> (ex #(session/delete-port-forwarding-local s {:local-port 1})) :data :type)))
  (is (= :bbssh/unknown-handle (-> (ex #(session/get-port-forwarding-local :bbssh/session-999)) :data :type)))
  (testing "a refused target closes the forwarded connection; the forward keeps serving"
    (let [dead (java.net.ServerSocket. 0)
          dead-port (.getLocalPort dead)
          _ (.close dead)
          port (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port dead-port})]
      ;; closed at once: no bytes, or a reset because ours were unread
      (is (contains? #{0 :reset} (try (count (round-trip port (.getBytes "x")))
                                      (catch java.net.SocketException _ :reset))))
      (is (re-find #"connecting to" (str (:last-error (meta (first (session/get-port-forwarding-local s)))))))
      (session/delete-port-forwarding-local s {:local-port port})))
  (is (= "ok\n" (-> (bbssh/exec s "echo ok" {:out :string}) deref :out)) "the session still works"))

(deftest forwards-at-connect-are-all-or-nothing
  (let [s2 (bbssh/ssh c/host (c/opts {:port-forward-local [{:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port}]}))]
    (is (= 1 (count (session/get-port-forwarding-local s2))))
    (session/disconnect s2)
    (is (= [] (session/get-port-forwarding-local s2)) "forwards end with the connection"))
  (let [e (ex #(bbssh/ssh c/host (c/opts {:port-forward-local [{:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port}
                                                               {:local-port 0 :remote-port 1}]})))]
    (is (= :bbssh/bad-option (-> e :data :type)))
    (is (re-find #"forward .* failed" (:message e)))
    (is (= {:local-port 0 :remote-port 1} (-> e :data :spec)))))

(c/run-tests-and-exit 'e2e.forward-test)
